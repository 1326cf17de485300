"""The load engine's raw records as a Run: the same schema every other engine writes.

Records (``records.jsonl``, one JSON list a line, times in seconds since the run's t0):

    ["c", t, latency, dependency, operation, instance_id, first, status, code, kind]
        one HTTP attempt as the virtual instance saw it; kind is served, throttled, failed,
        timed_out (its own timeout fired: partitions included) or connection (no answer)
    ["a", {instance, attempt, launch, start, end, ready_time, outcome, error_class, ...}]
        one boot attempt, as the sim engine records it

Unlike the exec engine nothing is estimated: a call a partition holds is a timed-out record.
Latency is the client's (Toxiproxy hop included). Validity reuses the exec engine's checks
(``sim.engines.exec.validity``): a fake whose peak rate reached 90 % of its measured capacity,
a load average above the core count; and adds Locust's own: a worker above ``WORKER_CPU``.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict

from sim.engines.live.series import add_peak_in_flight, series_book
from sim.engines.live.stack import fault_windows
from sim.results import AttemptTable, DependencySeries, Run, RunMeta, latency_bin

__all__ = ["assemble", "read_records", "build_series", "load_warnings", "WORKER_CPU"]

WORKER_CPU = 90.0  # percent of one core: above it a worker's own pacing may lag
_COUNT = {"served": "served", "throttled": "throttled", "failed": "failed", "timed_out": "timed_out",
          "connection": "failed"}
_FAKE_OF = {"imds": "imds", "secretsmanager": "gate", "ssm": "gate", "sts": "gate", "iam": "gate",
            "registry": "sinks", "telemetry": "sinks"}


def read_records(path) -> tuple[list[list], list[dict]]:
    calls, attempts = [], []
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # a line cut by a killed master
                if item[0] == "c":
                    calls.append(item)
                elif item[0] == "a":
                    attempts.append(item[1])
    except FileNotFoundError:
        pass
    return calls, attempts


def build_series(calls, names, interval: float, horizon: float, capacity: dict) -> dict[str, DependencySeries]:
    series, get = series_book(names, interval, horizon, capacity)
    spans = defaultdict(list)
    for _, t, latency, dep, op, iid, first, status, code, kind in calls:
        s = get(dep)
        i = s.slot(max(t, 0.0))
        c = s.counts
        c["offered"][i] += 1
        if first:
            c["needed"][i] += 1
        c[_COUNT.get(kind, "failed")][s.slot(max(t + latency, 0.0))] += 1
        if kind != "timed_out":
            s.latency_hist[s.slot(max(t + latency, 0.0)), latency_bin(latency)] += 1
        spans[dep].append((t, t + latency))
    for dep, intervals in spans.items():
        add_peak_in_flight(series[dep], intervals)
    return series


def assemble(engine, stack, status: dict, fault_records: list[dict], started: str, wall: float) -> Run:
    from sim.engines.sim.engine import _versions
    from sim.engines.sim.compiled import compile_scenario
    from sim.scenario.loader import scenario_hash

    scenario, plan = engine.scenario, engine.plan
    warnings = list(plan.warnings)
    calls, attempts = read_records(engine.tmp / "records.jsonl")
    end = float(status.get("end", 0.0))
    steps = compile_scenario(scenario).step_names
    table = AttemptTable(steps)
    seen = set()
    for a in sorted(attempts, key=lambda a: (a["instance"], a["attempt"])):
        seen.add(a["instance"])
        table.append(
            instance=a["instance"], attempt=a["attempt"], launch=a["launch"], start=_f(a["start"]),
            end=a["end"], ready_time=_f(a["ready_time"]), outcome=a["outcome"],
            error_class=a["error_class"] or "", failed_step=a["failed_step"] or "",
            retries=a["retries"], calls=a["calls"], step_retries=a["step_retries"], marks=a["marks"])
    missing = [i for i in range(plan.size) if i not in seen]
    for i in missing:  # never launched before the end (or its worker's records were lost)
        launch = plan.launches[i]
        table.append(instance=i, attempt=1, launch=launch, start=math.nan, end=end,
                     ready_time=math.nan, outcome="unfinished", error_class="NotStarted")
    if missing and status.get("reason") == "all instances done":
        warnings.append(f"load: {len(missing)} instance(s) have no record (a worker's last batch was lost)")
    capacity = stack.capacity()
    horizon = max(end, scenario.run.interval)
    series = build_series(calls, list(scenario.dependencies), scenario.run.interval, horizon, capacity)
    windows = fault_windows(fault_records, end)
    warnings += load_warnings(status, calls, capacity, wall, os.cpu_count() or 1, os.getloadavg()[0])
    lags = [a.get("lag", 0.0) for a in attempts if a["attempt"] == 1]
    lags.sort()
    if lags and lags[int(0.95 * (len(lags) - 1))] > 1.0:
        warnings.append(f"load: instances started late (p95 {lags[int(0.95 * (len(lags) - 1))]:.1f} s "
                        "between a launch time and its user waking): the workers could not keep pace")
    if status.get("reason") not in (None, "all instances done", "horizon"):
        warnings.append(f"load: the run ended early ({status.get('reason')}); what was recorded is kept")
    meta = RunMeta(
        engine="load", seed=engine.seed, scenario_name=scenario.name,
        scenario_hash=scenario_hash(scenario), scenario_file=engine.scenario_file,
        horizon=plan.horizon, started_at=started, wall_seconds=wall,
        versions={**_versions(), "locust": _locust_version()}, warnings=warnings,
        partial=engine.interrupted, sim_end=end, instances=plan.size,
        # Its times are wall seconds; metrics, SLOs and plots go back to the scenario's clock.
        time_scale=plan.clock.scale,
    )
    run = Run(meta, table, series, windows, scenario.model_dump(mode="json", by_alias=True))
    # Locust's own report (rounded buckets, for people used to it) goes beside the Run.
    run.attachments = {f"locust/{p.name}": p.read_bytes() for p in sorted(engine.tmp.glob("locust*"))}
    run.load_status = dict(status)  # the master's account: end reason, worker CPU (benchmarks)
    run.load_calls = len(calls)
    run.load_call_records = calls  # raw per-call samples (calibration fits service times on them)
    return run


def load_warnings(status: dict, calls: list, capacity: dict, wall: float, cores: int,
                  machine_load: float | None) -> list[str]:
    """The exec engine's validity checks on the load run's own calls, and Locust's worker CPU."""
    from sim.engines.exec.validity import peak_rates, validity_warnings

    by_fake = [{"t": c[1], "fake": _FAKE_OF.get(c[3], c[3])} for c in calls]
    fake_load = peak_rates(by_fake, key="fake") if by_fake else {}
    if "gate" in fake_load:  # what the gate forwards, moto answers: its capacity is moto's
        fake_load["moto"] = fake_load.pop("gate")
    fake_capacity = {"moto": (capacity.get("moto") or {}).get("rps"),
                     "imds": (capacity.get("imds") or {}).get("rps"),
                     "sinks": (capacity.get("sinks") or {}).get("rps")}
    out = validity_warnings(math.nan, wall, cores, fake_load, fake_capacity, machine_load)
    cpu = float(status.get("worker_cpu_max_percent") or 0.0)
    if cpu > WORKER_CPU:
        out.append(f"a Locust worker reached {cpu:.0f}% CPU (above {WORKER_CPU:.0f}%): its "
                   "virtual instances may have started and timed their calls late")
    return out


def _f(value) -> float:
    return math.nan if value is None else float(value)


def _locust_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("locust")
    except PackageNotFoundError:
        return "unknown"
