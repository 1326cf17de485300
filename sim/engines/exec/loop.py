"""The exec engine's loop: launch attempts on time, wait on their pidfds, reap them.

`Supervisor` is a mixin of `ExecEngine` (`sim.engines.exec.engine`), which owns the state
it works on (``_pending``, ``running``, ``seconds``, ``_selector``, ``isolator``, ``t0`` ...)
and sets it up and tears it down; what an exit, a registration or a deadline means for an
attempt is `sim.engines.exec.verdicts`. One thread: a selector on pidfds wakes the loop when a
child exits, otherwise it wakes for the next launch, deadline or registry poll (``POLL``).
"""

from __future__ import annotations

import heapq
import math
import os
import selectors
from pathlib import Path

from sim.engines.exec.assemble import Attempt
from sim.engines.exec.process import InstanceProcess, groups_cpu, instance_env
from sim.engines.live.plan import instance_id
from sim.errors import RunFailed

__all__ = ["Supervisor", "POLL", "CPU_SAMPLE"]

POLL = 0.2  # seconds between registry polls and deadline checks while waiting
CPU_SAMPLE = 0.5  # seconds between CPU samples of the running attempts (one /proc scan)
_REPO_ROOT = Path(__file__).resolve().parents[3]


class Supervisor:
    """Launching, waking and reaping; mixed into `ExecEngine`."""

    def _loop(self) -> None:
        last_tick = last_cpu = -math.inf
        while not self.interrupted:
            now = self.elapsed()
            if now >= self.horizon:
                return
            self._launch_due(now)
            self._reap_all()
            now = self.elapsed()
            self._deadlines(now)
            if now >= self._poll_due and self._waiting_for_registry():
                self._poll_registry()
                self._poll_due = now + POLL
            if self.finished >= self.size and not self.seconds and not self._pending:
                return
            if now - last_cpu >= CPU_SAMPLE:
                last_cpu = now
                self._sample_cpu(now)
            if now - last_tick >= 1.0:
                last_tick = now
                self._load_peak = max(self._load_peak, os.getloadavg()[0])
                if self.progress is not None:
                    self.progress(now, self.horizon, self.finished, self.size)
            wait = POLL
            if self._pending and not self._full():  # when full, an exit is what frees a slot
                wait = min(wait, max(0.0, self._pending[0][0] - now))
            self._selector.select(wait)  # wakes on any exit: _reap_all collects it

    def _sample_cpu(self, now: float) -> None:
        """Each running attempt's CPU so far, so busy_wait can judge the failing spans only."""
        live = [a for a in self.running if a.proc.running and a.outcome is None]
        if not live:
            return
        cpu = groups_cpu({a.proc.pid for a in live})
        for a in live:
            if a.proc.pid in cpu:
                a.cpu_samples.append((now, cpu[a.proc.pid]))

    def _push(self, t, instance, attempt, first_launch) -> None:
        heapq.heappush(self._pending, (t, self._seq, instance, attempt, first_launch))
        self._seq += 1

    def _launch_due(self, now: float) -> None:
        pending = self._pending
        while pending and pending[0][0] <= now and not self._full() and not self.interrupted:
            t, _, instance, attempt, first_launch = heapq.heappop(pending)
            self._launch(instance, attempt, t, first_launch)

    def _full(self) -> bool:
        return len(self.running) + len(self.seconds) >= self.spec.max_parallel

    def _launch(self, instance: int, attempt: int, launch: float, first_launch: float) -> None:
        iid = instance_id(instance, attempt)
        restart = self.scenario.fleet.replacement.mode == "restart"
        root = self.tmp / "roots" / (f"{instance}" if restart else f"{instance}-{attempt}")
        root.mkdir(parents=True, exist_ok=True)
        stack_env, prefix = self.isolator.add(iid, self.stack)
        env = instance_env(stack_env, root, _REPO_ROOT, self.spec.env)
        a = Attempt(instance, attempt, iid, root, launch, first_launch, env)
        logs = self.tmp / "logs"
        logs.mkdir(exist_ok=True)
        a.proc = self._spawn(env, root, logs / f"{instance}-{attempt}", prefix)
        a.start = a.proc.started - self.t0
        self.attempts.append(a)
        self.running.add(a)

    def _spawn(self, env, root, prefix, argv_prefix=None) -> InstanceProcess:
        try:
            proc = InstanceProcess(self.command, env, root, prefix, self.spec.nice,
                                   self.workdir, argv_prefix).start()
        except OSError as exc:
            raise RunFailed(f"exec engine: could not start {self.command!r} in {root}: {exc}") from exc
        if proc.pidfd is not None:
            self._selector.register(proc.pidfd, selectors.EVENT_READ, proc)
        return proc

    def _reap_all(self) -> None:
        for a in list(self.running):
            p = a.proc
            if p.running and p.reap():
                self._forget(p)
            if p.running:
                continue
            if a.outcome is None and not a.verdict_pending:
                self._exited(a)
            if a.outcome is None or a.verdict_pending:
                continue
            if a.outcome == "ready" and self.spec.idempotency_check and a.second is None:  # ready, then exited
                self._start_second(a)
            self.running.discard(a)
            if a not in self.seconds:
                self.isolator.release(a.instance_id)
        for a in list(self.seconds):
            if a.second.running and a.second.reap():
                self._forget(a.second)
            if not a.second.running:
                self._second_done(a)

    def _forget(self, proc: InstanceProcess) -> None:
        """The leader was reaped: unregister its pidfd before closing it (a closed fd's number
        comes back for another file), and look once whether its group is empty now."""
        if proc.pidfd is not None:
            self._selector.unregister(proc.pidfd)
            proc.close_fd()
        proc.group_alive()
