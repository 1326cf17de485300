"""Known-answer tests for the fleet-side metrics, on attempt tables built by hand."""

import math

import numpy as np
import pytest

from sim.metrics import attempt_metrics, phase_breakdown, time_to_ready
from sim.metrics.attempts import time_to_ready_fleet
from sim.metrics.attempts import outcome_counts, step_retry_means, value_counts
from sim.scenario.slos import METRICS

NAN = math.nan


def add(table, instance, attempt, launch, outcome, *, start=None, end=NAN, ready=NAN, **kw):
    table.append(instance=instance, attempt=attempt, launch=launch,
                 start=launch + 10 if start is None else start, end=end, ready_time=ready,
                 outcome=outcome, **kw)


def fleet():
    """4 instances, 6 attempts, with answers worked out by hand in the tests below.

    i0: ready at 40 (launched 0).
    i1: attempt 1 launched 5 failed (ConfigValidationFailed); attempt 2 launched 50, ready 95
        -> time to ready 95 - 5 = 90 (restarts count against it).
    i2: hung; i3: attempt 1 launched 20, ready at 50 -> 30; attempt 2 unfinished.
    """
    from sim.results import AttemptTable

    t = AttemptTable(["imds", "secret", "app"])
    add(t, 0, 1, 0.0, "ready", end=40, ready=40, retries=0, step_retries=[0, 0, 0],
        marks={"agent_started": 12, "secret_fetched": 15, "app_started": 20, "ready": 40})
    add(t, 1, 1, 5.0, "failed", end=30, error_class="ConfigValidationFailed",
        failed_step="app", retries=4, step_retries=[1, 3, 0],
        marks={"agent_started": 18, "app_started": 25}, findings="secret_exposure;weak_tls")
    add(t, 1, 2, 50.0, "ready", end=95, ready=95, retries=2, step_retries=[2, 0, 0],
        marks={"secret_fetched": 70, "app_started": 75, "agent_started": 80})
    add(t, 2, 1, 10.0, "hung", end=200, error_class="Timeout", failed_step="secret",
        retries=10, step_retries=[0, 10, 0], marks={"app_started": 30})
    add(t, 3, 1, 20.0, "ready", end=50, ready=50, retries=0, findings="weak_tls")
    add(t, 3, 2, 60.0, "unfinished", retries=0, marks={"app_started": 90})
    return t


def test_every_catalog_metric_is_present():
    metrics = attempt_metrics(fleet(), sim_end=300)
    assert set(METRICS) <= set(metrics)


def test_success_rate_counts_instances_not_attempts():
    # i0, i1 and i3 became ready, i2 did not: 3 of 4 instances (3 of 6 attempts would be 0.5).
    assert attempt_metrics(fleet(), 300)["bootstrap_success_rate"] == 0.75


def test_time_to_ready_starts_at_the_first_attempt():
    assert sorted(time_to_ready(fleet())) == [30.0, 40.0, 90.0]
    m = attempt_metrics(fleet(), 300)
    assert m["time_to_ready_of_ready.p50"] == 40.0
    assert m["time_to_ready_of_ready.max"] == 90.0
    assert m["time_to_ready_of_ready.mean"] == pytest.approx(160 / 3)
    assert m["time_to_ready_of_ready.p99"] == pytest.approx(np.percentile([30, 40, 90], 99))


def test_time_to_ready_of_the_fleet_counts_the_instance_that_never_booted_as_never():
    # i2 never became ready: over the fleet it is +inf, [30, 40, 90, inf].
    assert sorted(time_to_ready_fleet(fleet())) == [30.0, 40.0, 90.0, math.inf]
    m = attempt_metrics(fleet(), 300)
    assert m["time_to_ready.p50"] == 65.0  # numpy linear: halfway between 40 and 90
    # p75 would be 90 + 0.25 x (inf - 90): anything that interpolates towards never is never.
    for p in ("p90", "p95", "p99", "p99.9", "max", "mean"):
        assert m[f"time_to_ready.{p}"] == math.inf, p


def test_fleet_p99_is_never_when_40_percent_never_boot_but_finite_when_under_1_percent():
    from sim.results import AttemptTable

    def table(ready, never):
        t = AttemptTable([])
        for i in range(ready):
            add(t, i, 1, 0, "ready", ready=10.0 + i % 50)
        for i in range(ready, ready + never):
            add(t, i, 1, 0, "failed", error_class="ThrottlingException")
        return t

    storm = attempt_metrics(table(600, 400), 1000)
    assert storm["time_to_ready.p99"] == math.inf
    assert storm["time_to_ready_of_ready.p99"] < 60  # what the old p99 SLO looked at
    few = attempt_metrics(table(995, 5), 1000)  # 0.5 % never: p99 still among the ready
    assert few["time_to_ready.p99"] == pytest.approx(
        np.percentile([10 + i % 50 for i in range(995)] + [1e9] * 5, 99))


def test_time_to_ready_ignores_attempt_rows_order():
    from sim.results import AttemptTable

    t = AttemptTable([])
    add(t, 7, 2, 100.0, "ready", ready=130)
    add(t, 7, 1, 0.0, "failed")  # first attempt appended last
    assert list(time_to_ready(t)) == [130.0]


def test_error_rate_is_failed_or_hung_per_thousand_attempts():
    assert attempt_metrics(fleet(), 300)["bootstrap_error_rate"] == pytest.approx(1000 * 2 / 6)


def test_retries_and_attempts_per_instance():
    m = attempt_metrics(fleet(), 300)
    assert m["bootstrap_retries.mean"] == pytest.approx(16 / 6)
    assert m["bootstrap_retries.max"] == 10
    assert m["attempts_per_instance.mean"] == 1.5
    assert m["attempts_per_instance.max"] == 2
    assert step_retry_means(fleet()) == pytest.approx({"imds": 0.5, "secret": 13 / 6, "app": 0})


def test_counts_and_findings():
    m = attempt_metrics(fleet(), 300)
    assert m["config_validation_failures"] == 1
    assert m["secret_exposure_events"] == 1
    t = fleet()
    assert outcome_counts(t) == {"ready": 3, "failed": 1, "hung": 1, "unfinished": 1}
    assert value_counts(t.error_class) == {"ConfigValidationFailed": 1, "Timeout": 1}


def test_secret_exposure_matches_whole_finding_names():
    from sim.results import AttemptTable

    t = AttemptTable([])
    add(t, 0, 1, 0, "ready", findings="secret_exposure_suspected")
    add(t, 1, 1, 0, "ready", findings="a;secret_exposure")
    add(t, 2, 1, 0, "ready", findings="a;secret_exposure")
    assert attempt_metrics(t, 10)["secret_exposure_events"] == 2


def test_mark_latencies():
    m = attempt_metrics(fleet(), sim_end=300)
    # secret_fetched - start: i0 15-10=5; i1#2 70-60=10.
    assert m["secret_fetch_latency.max"] == 10 and m["secret_fetch_latency.p50"] == 7.5
    # agent_started - start: 2, 3, 20.
    assert m["agent_start_time.p50"] == 3 and m["agent_start_time.max"] == 20
    # app_started - launch: 20, 20, 25, 20, 30.
    assert m["cold_start_latency.max"] == 30 and m["cold_start_latency.p50"] == 20


def test_initial_metric_gap():
    # i0: agent 12 before app 20 -> 0; i1#1: agent 18 before app 25 -> 0; i1#2: 80 - 75 = 5;
    # i2: no agent, ended 200, app 30 -> 170; i3#2: no agent, never ended: sim_end 300 - 90.
    m = attempt_metrics(fleet(), sim_end=300)
    assert m["initial_metric_gap.max"] == 210
    assert m["initial_metric_gap.p50"] == 5
    assert m["initial_metric_gap.mean"] == pytest.approx((0 + 0 + 5 + 170 + 210) / 5)


def test_nobody_ready_gives_nan_times_and_zero_success():
    from sim.results import AttemptTable

    t = AttemptTable([])
    add(t, 0, 1, 0, "failed", error_class="X")
    add(t, 1, 1, 0, "hung")
    m = attempt_metrics(t, 100)
    assert m["bootstrap_success_rate"] == 0.0
    assert all(math.isnan(m[f"time_to_ready_of_ready.{p}"]) for p in ("p50", "p99.9", "max", "mean"))
    # Over the fleet it is measured: every instance took forever.
    assert all(m[f"time_to_ready.{p}"] == math.inf for p in ("p50", "p99.9", "max", "mean"))
    assert math.isnan(m["secret_fetch_latency.p50"])  # no mark in this scenario
    assert m["bootstrap_error_rate"] == 1000


def test_empty_table_is_all_nan_not_an_error():
    from sim.results import AttemptTable

    m = attempt_metrics(AttemptTable(["a"]), 100)
    assert math.isnan(m["bootstrap_success_rate"]) and math.isnan(m["bootstrap_error_rate"])
    assert math.isnan(m["attempts_per_instance.max"])
    assert phase_breakdown(AttemptTable(["a"])) == []


def test_phase_breakdown_orders_marks_and_skips_missing_ones():
    phases = phase_breakdown(fleet())
    names = [p.name for p in phases]
    # config_validated never happens: skipped. Median offsets after start: agent 3,
    # secret 7.5, app 10, ready 30 -> that order.
    assert names[0] == "launch -> start (OS boot)"
    assert [(p.begin, p.end) for p in phases[1:]] == [
        ("start", "agent_started"), ("agent_started", "secret_fetched"),
        ("secret_fetched", "app_started"), ("app_started", "ready"),
    ]
    os_boot = phases[0]
    assert os_boot.count == 6 and os_boot.p50 == 10 and os_boot.p95 == 10
    # secret -> app: i0 20-15=5, i1#2 75-70=5.
    assert phases[3].count == 2 and phases[3].p50 == 5
    # agent -> secret: i0 15-12=3, i1#2 70-80 -> out of order: counts 0.
    assert phases[2].count == 2 and phases[2].p50 == 1.5
