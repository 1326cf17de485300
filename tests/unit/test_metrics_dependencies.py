"""Dependency metrics, time to drain and metastability on synthetic series."""

import math

import numpy as np
import pytest

from sim.metrics import (dependency_metrics, evaluate_slos, is_metastable, last_fault_end,
                         time_to_drain)
from sim.results import DependencySeries, FaultWindow, latency_bin
from sim.scenario.slos import DEPENDENCY_METRICS, SLO


def series(n=100, interval=1.0, capacity=math.nan, **counts):
    s = DependencySeries.empty("sts", interval, n * interval, capacity)
    for key, values in counts.items():
        s.counts[key][:] = np.asarray(values, dtype=np.int64)
    return s


def steady(n=100, rps=10):
    return {"offered": [rps] * n, "needed": [rps] * n, "served": [rps] * n}


def fault(start, end):
    return [FaultWindow("throttle", "sts", start, end)]


def test_known_answers():
    s = series(4, interval=2.0, offered=[10, 40, 20, 10], needed=[10, 10, 10, 10],
               served=[10, 20, 10, 10], throttled=[0, 15, 5, 0], failed=[0, 5, 0, 0],
               timed_out=[0, 0, 5, 0])
    for ms, n in ((0.01, 3), (0.2, 1)):
        s.latency_hist[0, latency_bin(ms)] += n
    m = dependency_metrics(s, [])
    assert set(m) == set(DEPENDENCY_METRICS)
    assert m["peak_offered_rps"] == 20.0  # 40 calls in a 2 s interval
    assert m["peak_served_rps"] == 10.0
    assert m["throttled_share"] == 20 / 80
    assert m["failed_share"] == 5 / 80
    assert m["timed_out_share"] == 5 / 80
    assert m["retry_amplification"] == 2.0
    assert m["goodput"] == 50 / 80
    assert m["latency.p50"] == pytest.approx(0.01, rel=0.07)
    assert m["latency.p99"] == pytest.approx(0.2, rel=0.07)
    assert math.isnan(m["time_to_drain"])  # no fault
    assert m["metastable"] == 0.0


def test_idle_dependency_is_nan_not_an_error():
    m = dependency_metrics(series(10), fault(1, 2))
    assert m["peak_offered_rps"] == 0
    for key in ("throttled_share", "retry_amplification", "goodput", "latency.p99"):
        assert math.isnan(m[key]), key
    assert m["time_to_drain"] == 0.0
    # The series ends before fault end + 30 s grace: metastability cannot be judged.
    assert math.isnan(m["metastable"])
    m = dependency_metrics(series(40), fault(1, 2))
    assert m["metastable"] == 0.0


def recovering():
    """Fault 20..40 s; errors and retries until 55 s, clean after."""
    c = steady()
    c["offered"] = [10] * 20 + [30] * 35 + [10] * 45
    c["throttled"] = [0] * 20 + [20] * 35 + [0] * 45
    return c


def stuck():
    """Fault 20..40 s; retries keep the dependency throttling to the end of the run."""
    c = steady()
    c["offered"] = [10] * 20 + [30] * 80
    c["throttled"] = [0] * 20 + [20] * 80
    return c


def test_drain_time_of_a_recovering_series():
    assert time_to_drain(series(**recovering()), 40.0) == 15.0
    assert time_to_drain(series(**recovering()), 40.5) == 14.5


def test_not_drained_by_the_end_of_the_run_is_never_a_measurement():
    # The fault ended at 40 s and the run watched 60 s more: still throttling at the end is
    # "never" (+inf), which an SLO compares (and fails), not "not measured".
    assert time_to_drain(series(**stuck()), 40.0) == math.inf
    assert time_to_drain(series(**stuck()), 98.5) == math.inf  # one whole interval after: 99..100
    (v,) = evaluate_slos([SLO.model_validate("dependencies.s.time_to_drain <= 10m")],
                         {"dependencies.s.time_to_drain": time_to_drain(series(**stuck()), 40.0)})
    assert (v.verdict, v.passed) == ("fail", False)


def test_a_fault_that_ended_in_the_last_interval_leaves_the_drain_unmeasured():
    # Nothing watched after the fault: the run ran out, not the dependency's recovery.
    assert math.isnan(time_to_drain(series(**stuck()), 99.5))
    assert math.isnan(time_to_drain(series(**stuck()), 99.9))
    assert time_to_drain(series(**stuck()), 99.0) == math.inf  # 99..100 wholly after the fault
    (v,) = evaluate_slos([SLO.model_validate("dependencies.s.time_to_drain <= 10m")],
                         {"dependencies.s.time_to_drain": time_to_drain(series(**stuck()), 99.5)})
    assert (v.verdict, v.passed) == ("unmeasured", False)


def test_clean_right_away_is_zero():
    assert time_to_drain(series(**steady()), 40.0) == 0.0


def test_late_error_blip_restarts_the_drain_clock():
    c = recovering()
    c["failed"] = [0] * 100
    c["failed"][80] = 1
    assert time_to_drain(series(**c), 40.0) == 41.0


def test_excess_retries_without_errors_are_not_drained():
    c = steady()
    c["offered"] = [10] * 60 + [12] * 40  # 1.2 x needed to the end
    assert time_to_drain(series(**c), 40.0) == math.inf
    c["offered"] = [10] * 60 + [11] * 40  # 1.1 x is still drained
    assert time_to_drain(series(**c), 40.0) == 0.0


def test_fault_past_the_series_or_unended_is_nan():
    assert math.isnan(time_to_drain(series(**steady()), 150.0))
    assert math.isnan(time_to_drain(series(**steady()), math.inf))
    assert last_fault_end([FaultWindow("outage", "x", 0, None)]) == math.inf
    assert last_fault_end(fault(1, 5) + fault(2, 9)) == 9
    assert math.isnan(last_fault_end([]))


def test_metastable_stuck_vs_recovering():
    assert is_metastable(series(**stuck()), 40.0)
    assert not is_metastable(series(**recovering()), 40.0)
    assert dependency_metrics(series(**stuck()), fault(20, 40))["metastable"] == 1.0


def test_recovery_in_the_final_third_is_not_metastable():
    # Tail: 70..100 s (fault end 40 + 30 s grace); final third: the last 10 s, clean here,
    # while the tail as a whole is still overloaded.
    c = stuck()
    c["offered"][90:] = [10] * 10
    c["throttled"][90:] = [0] * 10
    assert not is_metastable(series(**c), 40.0)
    c["throttled"][95], c["offered"][95] = 20, 30  # one bad second in the final third: still not
    assert not is_metastable(series(**c), 40.0)


def test_high_errors_without_amplification_are_not_metastable():
    c = steady()
    c["failed"] = [5] * 100  # a broken dependency, but nobody is retrying into it
    assert not is_metastable(series(**c), 40.0)


def test_demand_above_capacity_is_overload_not_metastability():
    assert is_metastable(series(capacity=20.0, **stuck()), 40.0)  # needs 10/s, has 20/s
    assert not is_metastable(series(capacity=8.0, **stuck()), 40.0)  # needs 10/s, has 8/s


def test_too_short_a_tail_cannot_be_judged():
    assert not is_metastable(series(**stuck()), 69.0)  # tail starts at 99: one interval
    assert is_metastable(series(**stuck()), 68.0)  # two intervals
    assert not is_metastable(series(**stuck()), 40.0, grace=100.0)
