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
