"""Measurement validity: was the run limited by the bootstraps, or by the machine measuring them?

An exec run shares its cores between the harness, the fakes and the bootstraps under test. Its
numbers describe the bootstraps only if none of the others was the bottleneck.
:func:`validity_warnings` returns one sentence per reason to doubt a run (they go into
``RunMeta.warnings``):

- the harness itself used more than ``HARNESS_CPU_SHARE`` (10 %) of one core on average
  (the target of the exec engine), so its own work may have delayed the bootstraps;
- a fake's peak request rate reached ``FAKE_CAPACITY_SHARE`` (90 %) of its documented capacity
  (``fakes.stack.reading.capacity()``), so the fake may have limited the run: latency and
  throttling seen there belong to the fake, not to the modelled dependency;
- the machine's load average exceeded its core count, so everything waited for a CPU.

:class:`HarnessMeter` measures the harness's own CPU: ``resource.getrusage(RUSAGE_SELF)``
covers every thread of the process (and no child: bootstraps and fakes are children, their
CPU is theirs), and on Linux a per-thread breakdown from ``/proc/self/task`` names the thread
that spent it (threads alive at ``stop()`` only; the total counts ended threads too). :func:`peak_rates` turns a request log into the peak rates the check compares.
"""

from __future__ import annotations

import math
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping

__all__ = [
    "HARNESS_CPU_SHARE",
    "FAKE_CAPACITY_SHARE",
    "validity_warnings",
    "peak_rates",
    "HarnessMeter",
    "HarnessUsage",
]

HARNESS_CPU_SHARE = 0.10
FAKE_CAPACITY_SHARE = 0.90


def validity_warnings(harness_cpu_seconds: float, wall_seconds: float, cores: int,
                      fake_load: Mapping[str, float], fake_capacity: Mapping[str, float | None],
                      machine_load: float | None = None) -> list[str]:
    """One warning per reason to doubt the run; empty when nothing is wrong.

    ``fake_load``: peak requests per second each fake saw; ``fake_capacity``: the requests per
    second it is documented to handle (None or NaN: unknown, not checked); ``machine_load``:
    the highest load average seen during the run (None: not measured).
    """
    if cores < 1:
        raise ValueError(f"cores must be at least 1, got {cores!r}")
    out = []
    if math.isfinite(harness_cpu_seconds) and wall_seconds > 0:
        share = harness_cpu_seconds / wall_seconds
        if share > HARNESS_CPU_SHARE:
            out.append(
                f"the harness used {share:.0%} of one core ({harness_cpu_seconds:.1f} CPU s over "
                f"{wall_seconds:.1f} s; target at most {HARNESS_CPU_SHARE:.0%}): its own work may "
                "have delayed the bootstraps")
    for name in sorted(fake_load):
        load, cap = fake_load[name], fake_capacity.get(name)
        if cap is None or not math.isfinite(cap) or cap <= 0 or not math.isfinite(load):
            continue
        if load >= FAKE_CAPACITY_SHARE * cap:
            out.append(
                f"fake {name!r} peaked at {load:.0f} req/s, {load / cap:.0%} of its capacity "
                f"({cap:.0f} req/s): the fake, not the bootstrap, may have been the bottleneck")
    if machine_load is not None and math.isfinite(machine_load) and machine_load > cores:
        out.append(
            f"the machine's load average reached {machine_load:.2f} on {cores} core(s): "
            "processes waited for a CPU, so times include that wait")
    return out


def peak_rates(requests: Iterable[Mapping], key: str = "service", interval: float = 1.0,
               time_key: str = "t") -> dict[str, float]:
    """The busiest ``interval`` of each ``key`` value, in requests per second.

    Intervals are aligned on multiples of ``interval``; with the merged stack log, ``key="source"``
    gives the load per fake (``gate``, ``imds``).
    """
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    counts: dict[tuple[str, int], int] = {}
    for req in requests:
        slot = (str(req[key]), math.floor(req[time_key] / interval))
        counts[slot] = counts.get(slot, 0) + 1
    out: dict[str, float] = {}
    for (name, _), n in counts.items():
        out[name] = max(out.get(name, 0.0), n / interval)
    return out


@dataclass
class HarnessUsage:
    cpu_seconds: float  # user + system, every thread of the harness process
    wall_seconds: float
    threads: dict[str, float] = field(default_factory=dict)  # thread name -> CPU s (Linux only)

    @property
    def core_share(self) -> float:
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else math.nan


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _thread_cpu() -> dict[int, float]:
    """Native thread id -> CPU seconds, from /proc (empty where there is no /proc)."""
    out = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue  # the thread ended between listdir and open
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = data[data.rindex(b")") + 2 :].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return out


class HarnessMeter:
    """CPU the harness process spent between :meth:`start` and :meth:`stop`.

    Usable as a context manager; ``usage`` holds the result after stop.
    """

    def __init__(self) -> None:
        self._cpu0 = self._wall0 = math.nan
        self._threads0: dict[int, float] = {}
        self.usage: HarnessUsage | None = None

    def start(self) -> "HarnessMeter":
        self._threads0 = _thread_cpu()
        self._wall0 = time.monotonic()
        self._cpu0 = _self_cpu()
        return self

    def stop(self) -> HarnessUsage:
        if math.isnan(self._wall0):
            raise RuntimeError("HarnessMeter.stop() called before start()")
        cpu = _self_cpu() - self._cpu0
        wall = time.monotonic() - self._wall0
        names = {t.native_id: t.name for t in threading.enumerate()}
        threads: dict[str, float] = {}
        for tid, seconds in _thread_cpu().items():
            name = names.get(tid, f"thread-{tid}")
            spent = seconds - self._threads0.get(tid, 0.0)
            threads[name] = threads.get(name, 0.0) + spent
        self.usage = HarnessUsage(cpu, wall, threads)
        return self.usage

    def __enter__(self) -> "HarnessMeter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
