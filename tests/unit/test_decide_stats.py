"""Intervals, two-sample tests and verdicts (sim.decide.stats), against textbook numbers."""

import math

import numpy as np
import pytest

from sim.decide.stats import (
    Interval,
    bootstrap_interval,
    delta_interval,
    direction,
    distribution_tests,
    is_percentile_metric,
    mean_interval,
    metric_interval,
    verdict,
)


def test_t_interval_matches_the_textbook():
    # mean 3, s = 1.5811, sem = 0.7071, t(0.975, df=4) = 2.7764: 3 +- 1.9632
    iv = mean_interval([1, 2, 3, 4, 5])
    assert iv.estimate == 3
    assert iv.low == pytest.approx(1.0368, abs=1e-4)
    assert iv.high == pytest.approx(4.9632, abs=1e-4)
    assert iv.method == "t"


def test_one_value_has_no_interval_and_nan_is_not_a_value():
    iv = mean_interval([7.0, math.nan])
    assert iv.estimate == 7.0 and iv.n == 1
    assert math.isnan(iv.low) and math.isnan(iv.high)
    assert math.isnan(mean_interval([math.nan]).estimate)


def test_bootstrap_is_seeded_and_covers_the_mean():
    data = np.random.default_rng(1).lognormal(3, 1, size=40)
    a = bootstrap_interval(data, np.random.default_rng(5))
    b = bootstrap_interval(data, np.random.default_rng(5))
    assert (a.low, a.high) == (b.low, b.high)
    assert a.low < data.mean() < a.high


def test_percentile_metrics_get_a_bootstrap_interval_and_means_a_t_interval():
    rng = np.random.default_rng(0)
    assert is_percentile_metric("time_to_ready.p95")
    assert is_percentile_metric("dependencies.ssm.latency.p99")
    assert not is_percentile_metric("bootstrap_success_rate")
    assert metric_interval("time_to_ready.p95", [10, 12, 11, 13], rng).method == "bootstrap"
    assert metric_interval("time_to_ready.mean", [10, 12, 11, 13], rng).method == "t"


def test_paired_delta_sees_a_shift_that_seed_noise_hides_unpaired():
    rng = np.random.default_rng(3)
    seed_effect = rng.normal(100, 30, size=10)  # each seed's luck, shared by both sides
    a, b = seed_effect, seed_effect + 2.0 + rng.normal(0, 0.1, size=10)
    paired = delta_interval(a, b, np.random.default_rng(0), paired=True)
    unpaired = delta_interval(a, b, np.random.default_rng(0), paired=False)
    assert paired.excludes_zero() and paired.low > 1.5
    assert not unpaired.excludes_zero()


def test_distribution_tests_tell_a_shift_from_the_same_distribution():
    rng = np.random.default_rng(2)
    same = distribution_tests(rng.normal(0, 1, 500), rng.normal(0, 1, 500))
    shifted = distribution_tests(rng.normal(0, 1, 500), rng.normal(0.5, 1, 500))
    assert same["mannwhitney_p"] > 0.01 and same["ks_p"] > 0.01
    assert shifted["mannwhitney_p"] < 1e-6 and shifted["ks_p"] < 1e-6


def test_direction_and_verdict():
    assert direction("bootstrap_success_rate") == 1
    assert direction("dependencies.config.goodput") == 1
    assert direction("time_to_ready.p95") == -1
    assert direction("dependencies.config.metastable") == -1
    up = Interval(5.0, 1.0, 9.0, 10, "bootstrap")
    assert verdict("time_to_ready.p95", up) == "worse"
    assert verdict("bootstrap_success_rate", up) == "better"
    assert verdict("time_to_ready.p95", Interval(1.0, -1.0, 3.0, 10, "t")) == \
        "no significant difference"
    assert verdict("time_to_ready.p95", Interval(math.nan, math.nan, math.nan, 0, "none")) == \
        "not measured"
