"""What the exec and load engines share: the scenario's clock on the wall clock, no server."""

from __future__ import annotations

import random

import pytest

from sim.engines.live.plan import ScaledClock, instance_id, launch_times
from sim.scenario import load_scenario
from sim.scenario.fleet import RestartBackoff

THROTTLE = "faults=[{at: 10, for: 20, target: ssm.GetParameter, kind: throttle, quota: {rate: 10}}]"


def test_times_are_multiplied_and_rates_divided_by_the_scale():
    clock = ScaledClock(0.1)
    assert clock.seconds(300.0) == pytest.approx(30.0)
    assert clock.optional_seconds(None) is None and clock.optional_seconds(60.0) == pytest.approx(6.0)
    assert clock.rate(40.0) == pytest.approx(400.0)  # SSM's 40/s on a 10x faster story


def test_a_throttle_faults_quota_is_per_scenario_second_and_its_burst_a_count():
    s = load_scenario("scenarios/autoscale-storm.yaml", [THROTTLE])
    f = ScaledClock(0.5).fault(s.faults[0])
    assert (f.at, f.for_) == (5.0, 10.0)
    assert (f.quota.rate, f.quota.burst) == (20.0, 10.0)  # burst: the scenario's default, max(1, rate)
    assert ScaledClock(1.0).fault(s.faults[0]) is s.faults[0]


def test_fewer_instances_keep_the_arrival_shape():
    s = load_scenario("scenarios/secrets-partition.yaml")
    times = launch_times(s, 100, random.Random(1))
    assert len(times) == 100 and times == sorted(times)
    assert times[-1] == pytest.approx(0.99 * 300)  # the 5-minute ramp, spread over 100
    assert ScaledClock(0.1).launches(s, 100, random.Random(1)) == pytest.approx([t * 0.1 for t in times])


def test_instance_ids_are_ec2_shaped_and_one_per_attempt():
    assert instance_id(3, 2) == "i-00000000000300002"
    assert len({instance_id(i, a) for i in range(50) for a in range(1, 4)}) == 150


def test_the_restart_backoff_every_engine_uses():
    b = RestartBackoff(base=10, multiplier=2, cap=300)
    assert [b.delay(n, random.Random(0)) for n in (1, 2, 3, 6, 7)] == [10, 20, 40, 300, 300]
    jittered = RestartBackoff(base=10, multiplier=2, cap=300, jitter=True)
    assert jittered.delay(3, random.Random(5)) == random.Random(5).uniform(0.0, 40.0)
