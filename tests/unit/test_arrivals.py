"""Launch times from arrival shapes, with rates that change over time (a timeline)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from sim.arrivals import RateClock, launch_times
from sim.scenario.fleet import Fleet

SPIKE = [{"at": 0, "rate": 2}, {"at": "60s", "rate": 40}, {"at": "90s", "rate": 2}]


def times(arrival, size, seed=1):
    fleet = Fleet.model_validate({"size": size, "arrival": arrival})
    return np.fromiter(launch_times(fleet.arrival, size, random.Random(seed)), float, size)


def test_rate_clock_inverts_the_integrated_rate():
    clock = RateClock([{"at": 0.0, "rate": 2.0}, {"at": 10.0, "rate": 0.0},
                       {"at": 20.0, "rate": 10.0}])
    assert clock.advance(0.0, 1.0) == 0.5
    assert clock.advance(9.9, 1.0) == pytest.approx(20.08)  # 0.2 before the gap, 0.8 after
    assert clock.advance(0.0, 25.0) == pytest.approx(20.5)
    assert RateClock([{"at": 5.0, "rate": 1.0}]).advance(0.0, 1.0) == 6.0  # 0 before the first
    assert RateClock(4.0).advance(1.0, 2.0) == 1.5


def test_poisson_with_a_spike_launches_rate_times_duration_in_each_window():
    """A non-homogeneous Poisson process: the count in a window is Poisson with mean the
    integral of the rate over it (Cinlar, Introduction to Stochastic Processes, ch. 4; the time
    change theorem this sampler uses). 2/s for a minute, 40/s for 30 s, then 2/s."""
    size = 1500
    t = times({"kind": "poisson", "rate": SPIKE}, size)
    assert (np.diff(t) >= 0).all()
    for lo, hi, mean in ((0, 60, 120), (60, 90, 1200), (90, 150, 120)):
        count = ((t >= lo) & (t < hi)).sum()
        assert abs(count - mean) < 5 * math.sqrt(mean), (lo, hi, count)


def test_poisson_with_a_constant_rate_keeps_its_numbers():
    """A plain number takes the old path: the same seed gives the same launches as before."""
    rng = random.Random(3)
    old, t = [], 0.0
    for _ in range(100):
        t += rng.expovariate(5.0)
        old.append(t)
    assert np.array_equal(times({"kind": "poisson", "rate": 5}, 100, seed=3), old)


def test_ramp_paced_by_a_rate_timeline():
    """A ramp by rate launches deterministically: the n-th launch when n launches' worth of
    rate has passed since `start` (2/s for 60 s: one every 0.5 s; then 40/s)."""
    t = times({"kind": "ramp", "start": 0, "rate": SPIKE}, 200)
    assert np.allclose(t[:121], np.arange(121) * 0.5)
    assert np.allclose(np.diff(t[121:]), 1 / 40)
    by_rate = times({"kind": "ramp", "rate": 10}, 50)
    assert np.allclose(by_rate, times({"kind": "ramp", "over": 5}, 50))


def test_autoscaling_refill_rate_timeline():
    """EC2's launch bucket with a refill rate that changes: the burst at once, then launches
    paced by the timeline."""
    t = times({"kind": "autoscaling", "burst": 10,
               "refill_rate": [{"at": 0, "rate": 1}, {"at": "5s", "rate": 10}]}, 20)
    assert (t[:10] == 0).all()
    assert np.allclose(t[10:15], [1, 2, 3, 4, 5])
    assert np.allclose(t[15:], 5 + np.arange(1, 6) / 10)
    constant = times({"kind": "autoscaling", "burst": 10, "refill_rate": 2}, 20)
    assert np.allclose(constant[10:], np.arange(1, 11) / 2)
