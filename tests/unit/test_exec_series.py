"""The exec engine's dependency series: each call counted once, estimated or seen."""

from __future__ import annotations

import pytest

from sim.engines.exec.series import add_unanswered, build_series
from sim.metrics import dependency_metrics

T0 = 1_000_000.0  # epoch seconds of the run's start


def logged(t, instance, status=200, operation="GetSecretValue"):
    return {"time": T0 + t, "instance_id": instance, "service": "secretsmanager", "operation": operation,
            "status": status, "error_code": None, "latency_ms": 5.0}


def series_for(log, attempts, window=(10.0, 20.0)):
    series = build_series(log, [], t0_wall=T0, horizon=60.0, interval=1.0, names=["secretsmanager"], capacity={})
    answered = {}
    for e in sorted(log, key=lambda e: e["time"]):
        answered.setdefault((e["instance_id"], "secretsmanager"), e["time"] - T0)
    added = add_unanswered(series, [("secretsmanager", *window)], attempts, answered)
    return series["secretsmanager"], added


def shares(s):
    m = dependency_metrics(s, [], 30.0)
    return m["goodput"], m["timed_out_share"]


def test_a_call_lost_in_a_partition_is_offered_and_timed_out_never_served():
    # Four instances fetched before the partition; six were alive in it and never answered
    # (killed at their boot timeout). Before the fix: goodput 100 % beside timed out 150 %.
    log = [logged(1.0 + k, f"i-{k}") for k in range(4)]
    attempts = [(f"i-{k}", 0.0, 6.0) for k in range(4)] + [(f"i-{k}", 5.0, 15.0) for k in range(4, 10)]
    s, added = series_for(log, attempts)
    assert added == 6
    c = s.counts
    assert c["offered"].sum() == 10 and c["served"].sum() == 4 and c["timed_out"].sum() == 6
    assert c["needed"].sum() == 10  # each lost call was its instance's only one
    goodput, timed_out = shares(s)
    assert goodput == pytest.approx(0.4) and timed_out == pytest.approx(0.6)
    assert goodput + timed_out == pytest.approx(1.0)  # every call counted once


def test_a_held_call_answered_when_the_partition_lifts_is_counted_once_as_served():
    # A client without a timeout (the naive script): its call waits out the partition and
    # reaches the gate at the lift, which logs it served. It is not also a timed-out call.
    log = [logged(20.05, "i-1"), logged(20.3, "i-2")]
    s, added = series_for(log, [("i-1", 5.0, 25.0), ("i-2", 5.0, 25.0)])
    assert added == 0
    assert shares(s) == (1.0, 0.0)


def test_a_retry_long_after_the_lift_follows_a_timed_out_call():
    # This client gave up during the partition and retried 5 s after the lift: two calls.
    s, added = series_for([logged(25.0, "i-1")], [("i-1", 5.0, 30.0)])
    assert added == 1
    assert s.counts["offered"].sum() == 2 and s.counts["needed"].sum() == 1
    assert shares(s) == (0.5, 0.5)


def sink(t, instance, kind="telemetry"):
    return {"time": T0 + t, "instance_id": instance, "type": kind}


def test_a_call_is_needed_unless_it_retries_a_failed_call_of_the_same_operation():
    # i-1: two successful fetches (two first tries), then a 503 and its retry; i-2 only fails
    # then succeeds. The retry rule is the attempts' (sim.engines.exec.calls.RetryRule).
    log = [logged(1.0, "i-1"), logged(2.0, "i-1"), logged(3.0, "i-1", status=503),
           logged(3.5, "i-1"), logged(1.0, "i-2", status=503), logged(2.5, "i-2"),
           logged(4.0, "i-1", operation="DescribeSecret")]
    s = build_series(log, [], t0_wall=T0, horizon=10.0, interval=1.0, names=[], capacity={})["secretsmanager"]
    assert s.counts["offered"].sum() == 7
    assert s.counts["needed"].sum() == 5  # the calls at 3.5 (i-1) and 2.5 (i-2) are retries
    assert list(s.counts["needed"][:5]) == [0, 2, 1, 1, 1]


def test_sink_events_a_duplicate_is_a_retry_and_a_conflict_fails():
    events = [sink(1.0, "i-1", "register"), sink(1.2, "i-1", "register_duplicate"),
              sink(2.0, "i-2", "register_conflict"), sink(2.5, "i-2", "register"),
              sink(3.0, "i-3", "register"), sink(3.1, "i-3", "telemetry"), sink(3.2, "i-3", "telemetry")]
    series = build_series([], events, t0_wall=T0, horizon=10.0, interval=1.0, names=[], capacity={})
    registry, telemetry = series["registry"].counts, series["telemetry"].counts
    assert registry["offered"].sum() == 5 and registry["failed"].sum() == 1 and registry["served"].sum() == 4
    assert registry["needed"].sum() == 3  # one registration per instance; the rest were retries
    assert telemetry["offered"].sum() == telemetry["needed"].sum() == 2


def test_a_constructed_exec_run_drains_despite_steady_heartbeats():
    # Secrets Manager is down from 0 to 10 s: three instances retry every second, and their
    # agents heartbeat to telemetry every 0.5 s for the whole 30 s run. Drain = offered back to
    # the first-try load: heartbeats are first tries, so telemetry is clean right after the
    # fault; Secrets Manager is clean once the retries that succeed at 10.1 s are past.
    # Before heartbeats counted as needed, telemetry read "never (in run)" (+inf).
    from sim.metrics import summarize
    from sim.results import AttemptTable, FaultWindow, Run, RunMeta

    log = [logged(t + 0.1, f"i-{k}", status=503) for k in range(3) for t in range(10)]
    log += [logged(10.1, f"i-{k}") for k in range(3)]
    beats = [sink(0.5 * n, f"i-{k}") for k in range(3) for n in range(60)]
    series = build_series(log, beats, t0_wall=T0, horizon=30.0, interval=1.0,
                          names=["secretsmanager", "telemetry"], capacity={})
    table = AttemptTable(["secretsmanager.GetSecretValue"])
    for k in range(3):
        table.append(instance=k, attempt=1, launch=0.0, start=0.0, end=12.0, ready_time=12.0,
                     outcome="ready", retries=10, step_retries=[10])
    meta = RunMeta(engine="exec", seed=1, scenario_name="heartbeats", scenario_hash="x", scenario_file=None,
                   horizon=30.0, started_at="2026-01-01T00:00:00Z", sim_end=30.0, instances=3)
    run = Run(meta, table, series, [FaultWindow("outage", "secretsmanager", 0.0, 10.0, {})], {"name": "heartbeats"})
    m = summarize(run).metrics
    assert m["dependencies.telemetry.time_to_drain"] == 0.0
    assert m["dependencies.telemetry.retry_amplification"] == 1.0
    assert m["dependencies.secretsmanager.time_to_drain"] == 1.0  # clean from the interval at 11 s
    assert m["dependencies.secretsmanager.retry_amplification"] == pytest.approx(33 / 3)
