"""From what happened in an exec run to the Run: attempt rows, findings, series, warnings.

Per attempt, from the fakes' request log (gate and IMDS) and the registry's events:

- ``calls``: requests the instance made during its attempt (AWS APIs, IMDS, registrations;
  telemetry events are reports, not calls, and are not counted);
- steps: a script's steps are unknown, so the table's steps are the distinct operations the
  fleet called (``secretsmanager.GetSecretValue``, ``imds.PutToken``, ``registry.Register``);
  a retry is a call whose previous call of the same operation by the instance failed (two
  successful PutToken calls are two calls, no retry: `sim.engines.exec.calls`, the rule the
  series' ``needed`` uses too); ``retries`` is their sum over the steps;
- ``error_class``: for a failed attempt, the last error code a fake answered it with, else how
  the script ended (``exit:1``, ``signal:SIGSEGV``); ``NotRegistered``, ``BootTimeoutExceeded``,
  ``HealthCheckGraceExceeded`` come from the engine;
- marks: ``agent_started``/``app_started`` from the telemetry sink's first agent/app event,
  ``secret_fetched`` from the first successful GetSecretValue, ``ready`` = ready time.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.engines.exec.calls import RetryRule, requests_from_log
from sim.engines.exec.findings import (AttemptEvidence, SecondRun, attempt_findings, fleet_findings,
                                       findings_column)
from sim.engines.exec.series import SINK_EVENT_DEPENDENCY, add_unanswered, build_series
from sim.engines.exec.validity import peak_rates, validity_warnings
from sim.engines.live.stack import fault_windows
from sim.results import AttemptTable, Run, RunMeta

__all__ = ["Attempt", "assemble"]

_REGISTRATIONS = ("register", "reregister", "register_duplicate", "register_conflict")
_NEW_REGISTRATIONS = ("register", "reregister")  # a duplicate changes nothing in the registry


@dataclass(eq=False)  # identity hash: attempts live in sets
class Attempt:
    instance: int
    attempt: int
    instance_id: str
    root: Path
    launch: float
    first_launch: float
    env: dict = field(repr=False, default_factory=dict)
    proc: Any = None
    start: float = math.nan
    end: float = math.nan
    outcome: str | None = None
    error_class: str = ""
    ready_at: float = math.nan
    registered_at: float = math.nan
    verdict_pending: bool = False  # exited 0, waiting for the registry's word
    killed_at_timeout: bool = False
    second: Any = None
    second_window: tuple[float, float] | None = None
    second_result: SecondRun | None = None
    snapshot: dict | None = None
    cpu_samples: list = field(default_factory=list)  # (run-relative t, CPU seconds so far)


def _read(engine, warnings: list[str]):
    stack = engine.stack
    try:
        log = stack.request_log(0.0)
        events, since = [], 0
        while True:
            batch = stack.sinks.events(since)
            if not batch:
                break
            events.extend(batch)
            since = batch[-1]["seq"]
        return log, events, stack.sink_summary(), stack.capacity()
    except Exception as exc:  # a dead fake: keep what the engine itself saw
        warnings.append(f"exec: could not read the fakes' logs ({exc}); calls and series are missing")
        return [], [], {}, {}


def assemble(engine, end: float, started: str, fault_records: list[dict], usage,
             notes: list[str]) -> Run:
    from sim.engines.sim.engine import _versions
    from sim.scenario.loader import scenario_hash

    warnings = list(notes)
    log, events, summary, capacity = _read(engine, warnings)
    t0_wall, t0 = engine.t0_wall, engine.t0
    calls_of: dict[str, list[dict]] = defaultdict(list)
    for e in log:
        calls_of[e["instance_id"]].append(e)
    for ev in events:
        if ev["type"] in _REGISTRATIONS:
            calls_of[ev["instance_id"]].append({
                "time": ev["time"], "instance_id": ev["instance_id"], "service": "registry",
                "operation": "Register", "status": 409 if ev["type"] == "register_conflict" else 200,
                "error_code": "Conflict" if ev["type"] == "register_conflict" else None,
                "latency_ms": None, "source": "sinks"})
    attempts = sorted(engine.attempts, key=lambda a: (a.instance, a.attempt))
    first_calls = {a.instance_id: _own_calls(a, calls_of.get(a.instance_id, []), t0_wall) for a in attempts}
    steps = sorted({f"{e['service']}.{e['operation']}" for calls in first_calls.values() for e in calls})
    windows = fault_windows(fault_records, end)
    table = AttemptTable(steps)
    cfg = engine.finding_config
    for a in attempts:
        calls = first_calls[a.instance_id]
        per_op = _retries_per_op(calls)
        error_class = a.error_class
        if a.outcome == "failed" and error_class.startswith(("exit:", "signal:")):
            codes = [e["error_code"] for e in calls if e.get("error_code")]
            error_class = codes[-1] if codes else error_class
        row = summary.get(a.instance_id) or {}
        marks = {"ready": a.ready_at}
        for mark, key in (("agent_started", "first_agent_monotonic"), ("app_started", "first_app_monotonic")):
            if row.get(key) is not None:
                marks[mark] = row[key] - t0
        secret = [e["time"] - t0_wall for e in calls
                  if e["operation"] == "GetSecretValue" and 0 < int(e["status"] or 0) < 400]
        if secret:
            marks["secret_fetched"] = secret[0]
        if a.second_result is not None and a.second_window is not None:
            lo, hi = a.second_window
            a.second_result.extra_registrations = sum(
                1 for ev in events if ev["instance_id"] == a.instance_id and ev["type"] in _NEW_REGISTRATIONS
                and lo <= ev["monotonic"] - t0 <= hi)
        cpu = a.proc.cpu_seconds if a.proc is not None else math.nan
        evidence = AttemptEvidence(
            instance_id=a.instance_id, attempt=a.attempt, root=a.root,
            stdout=a.proc.stdout_path, stderr=a.proc.stderr_path, start=a.start, end=a.end,
            cpu_seconds=cpu, cpu_samples=list(a.cpu_samples), outcome=a.outcome, killed_at_timeout=a.killed_at_timeout,
            faults_at_end=[w.kind for w in windows if w.start <= a.end <= w.end],
            requests=requests_from_log([e for e in calls if e["service"] != "registry"], t0_wall),
            registered_at=None if math.isnan(a.registered_at) else a.registered_at,
            duplicate_registrations=int(row.get("duplicate_registrations") or 0),
            first_agent_event=marks.get("agent_started"), first_app_event=marks.get("app_started"),
            second_run=a.second_result,
        )
        findings = attempt_findings(evidence, engine.planted, cfg)
        table.append(
            instance=a.instance, attempt=a.attempt, launch=a.launch, start=a.start, end=a.end,
            ready_time=a.ready_at, outcome=a.outcome, error_class=error_class if a.outcome != "ready" else "",
            retries=sum(per_op.values()), calls=len(calls),
            step_retries=[per_op.get(s, 0) for s in steps], marks=marks,
            cpu_seconds=cpu, findings=findings_column(findings),
        )
    all_requests = requests_from_log(log, t0_wall)
    warnings += [f"finding: {f.name}: {f.detail}" for f in fleet_findings(all_requests, cfg)]
    horizon = max(end, engine.scenario.run.interval)
    series = build_series(log, events, t0_wall=t0_wall, horizon=horizon,
                          interval=engine.scenario.run.interval,
                          names=[n for n in engine.scenario.dependencies], capacity=capacity)
    called = {s.call.split(".")[0] for s in engine.scenario.bootstrap.steps if s.call} | {
        e["service"] for e in log}
    answered: dict[tuple[str, str], float] = {}
    for e in log:
        answered.setdefault((e["instance_id"], e["service"]), e["time"] - t0_wall)
    for ev in events:
        dep = SINK_EVENT_DEPENDENCY.get(ev["type"])
        if dep:
            answered.setdefault((ev["instance_id"], dep), ev["time"] - t0_wall)
    partitions = [(w.target.split(".")[0], w.start, w.end) for w in windows
                  if w.kind == "partition" and w.target.split(".")[0] in called]
    lost = add_unanswered(series, partitions, [(a.instance_id, a.start, a.end) for a in attempts], answered)
    if lost:
        warnings.append(f"exec: {lost} timed-out call(s) during partitions are estimated (one per attempt "
                        "left unanswered): the fakes never see a call a partition holds")
    fake_load = peak_rates(all_requests, key="source") if all_requests else {}
    sink_times = [{"t": ev["time"] - t0_wall, "source": "sinks"} for ev in events]
    if sink_times:
        fake_load.update(peak_rates(sink_times, key="source"))
    fake_capacity = {"gate": (capacity.get("moto") or {}).get("rps"),
                     "imds": (capacity.get("imds") or {}).get("rps"),
                     "sinks": (capacity.get("sinks") or {}).get("rps")}
    # Under a second of wall time (an early Ctrl-C) the harness's share means nothing.
    harness_cpu = usage.cpu_seconds if usage.wall_seconds >= 1.0 else math.nan
    warnings += validity_warnings(harness_cpu, usage.wall_seconds, os.cpu_count() or 1,
                                  fake_load, fake_capacity, engine._load_peak or None)
    if engine.spec.keep_files:
        warnings.append(f"exec: instance roots and logs kept in {engine.tmp}")
    meta = RunMeta(
        engine="exec", seed=engine.seed, scenario_name=engine.scenario.name,
        scenario_hash=scenario_hash(engine.scenario), scenario_file=engine.scenario_file,
        horizon=engine.horizon, started_at=started, wall_seconds=usage.wall_seconds,
        versions=_versions(), warnings=warnings, partial=engine.interrupted, sim_end=end,
        instances=engine.size, time_scale=engine.spec.time_scale, isolation=engine.isolation,
    )
    return Run(meta, table, series, windows, engine.scenario.model_dump(mode="json", by_alias=True))


def _retries_per_op(calls: list[dict]) -> Counter:
    """Per ``service.operation``: calls made after a failed call of the same operation."""
    retries: Counter = Counter()
    rule = RetryRule()
    for e in sorted(calls, key=lambda e: e["time"]):
        op = f"{e['service']}.{e['operation']}"
        if rule.is_retry(op, e):
            retries[op] += 1
    return retries


def _own_calls(a: Attempt, calls: list[dict], t0_wall: float) -> list[dict]:
    """The calls of the attempt's first run (the idempotency second run is judged apart)."""
    if a.second_window is None:
        return calls
    lo = a.second_window[0]
    return [e for e in calls if e["time"] - t0_wall < lo]
