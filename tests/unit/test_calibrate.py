"""Calibration without servers: clock compression, the comparison, the report, the probe."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from sim.calibrate import compare, compress
from sim.calibrate.compare import relative_error
from sim.calibrate.fit import Fit, apply_fit, probe_scenario
from sim.calibrate.report import markdown, plot_cdf
from sim.engines.sim import run as sim_run
from sim.metrics import time_to_ready
from sim.scenario import load_scenario

SECRETS = "scenarios/secrets-partition.yaml"


def small(*overrides):
    return load_scenario(SECRETS, ["fleet.size=60", *overrides])


def test_compress_scales_the_scenarios_clock_and_nothing_an_instance_does():
    s = small()
    c = compress(s, 0.25)
    assert c.fleet.arrival.over == pytest.approx(s.fleet.arrival.over * 0.25)
    assert c.faults[0].at == pytest.approx(s.faults[0].at * 0.25)
    assert c.faults[0].for_ == pytest.approx(s.faults[0].for_ * 0.25)
    assert c.fleet.replacement.backoff.base == pytest.approx(s.fleet.replacement.backoff.base * 0.25)
    assert c.fleet.health_check_grace == pytest.approx(s.fleet.health_check_grace * 0.25)
    assert c.run.horizon == pytest.approx(s.run.horizon * 0.25)
    # What an instance does keeps its natural speed.
    assert c.fleet.os_boot == s.fleet.os_boot
    assert c.bootstrap.steps == s.bootstrap.steps
    assert _without_quotas(c) == _without_quotas(s)  # quotas are rates: see the next test
    assert c.load.time_scale == 1.0 and c.exec.time_scale == 1.0  # never compressed twice
    assert compress(s, 1.0) is s


def _without_quotas(scenario):
    deps = scenario.model_dump()["dependencies"]
    for dep in deps.values():
        for op in dep["operations"].values():
            op.pop("quota")
    return deps


def test_compress_keeps_quotas_per_scenario_second_as_the_engines_time_scale_does():
    from sim.engines.live.plan import ScaledClock

    s = load_scenario("scenarios/autoscale-storm.yaml", [
        "faults=[{at: 10, for: 20, target: ssm.GetParameter, kind: throttle, quota: {rate: 10}}]"])
    c = compress(s, 0.25)
    quota = c.dependencies["ssm"].operations["GetParameter"].quota
    assert (quota.rate, quota.burst) == (160.0, 40.0)  # 40/s for 4x faster arrivals; burst a count
    assert c.dependencies["ssm"].operations["GetParameter"].service_time == (
        s.dependencies["ssm"].operations["GetParameter"].service_time)
    assert (c.faults[0].quota.rate, c.faults[0].quota.burst) == (40.0, 10.0)
    # The very numbers the exec and load engines put on the gate at load.time_scale 0.25.
    clock = ScaledClock(0.25)
    assert clock.rate(s.dependencies["ssm"].operations["GetParameter"].quota.rate) == quota.rate
    scaled = clock.fault(s.faults[0])
    assert (scaled.quota.rate, scaled.quota.burst, scaled.at, scaled.for_) == (40.0, 10.0, 2.5, 5.0)


def test_compress_keeps_a_poisson_fleet_the_same_size_in_less_time():
    s = load_scenario("scenarios/retry-storm.yaml", ["fleet.size=100"])
    assert compress(s, 0.5).fleet.arrival.rate == pytest.approx(s.fleet.arrival.rate * 2)


def test_relative_error():
    assert relative_error(110.0, 100.0) == pytest.approx(0.10)
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1.0, 0.0) == math.inf
    assert math.isnan(relative_error(math.nan, 1.0))


def test_comparison_of_two_runs_side_by_side():
    # Two seeds of the same model stand in for two engines: close, not identical.
    a, b = sim_run(small(), seed=1), sim_run(small(), seed=2)
    cmp = compare({"load": a, "sim": b})
    assert cmp.engines == ["load", "sim"]
    row = cmp.row("time_to_ready.p50")
    assert row.errors["sim"] == pytest.approx((row.values["sim"] - row.values["load"]) / row.values["load"])
    expected = ks_2samp(time_to_ready(b.attempts), time_to_ready(a.attempts)).statistic
    assert cmp.ks["sim"] == pytest.approx(expected)
    assert {r.metric for r in cmp.rows} >= {"secretsmanager.calls", "secretsmanager.retry_amplification",
                                           "imds.throttled", "registry.timed_out", "bootstrap_success_rate"}
    same = compare({"load": a, "sim": a})
    assert same.ks["sim"] == 0.0 and same.goal("sim") == (True, [])


def test_a_model_far_from_the_reference_misses_the_goal_and_says_where(tmp_path):
    near = sim_run(small(), seed=1)
    slow = sim_run(small("fleet.os_boot=60s"), seed=1)  # every boot a minute later
    cmp = compare({"load": near, "sim": slow})
    ok, misses = cmp.goal("sim")
    assert not ok and any("p50" in m for m in misses) and any("KS" in m for m in misses)
    text = markdown(cmp, "t", ["a note"], ["dependencies.imds.concurrency: 3"])
    assert "| time_to_ready.p50 |" in text and "not met" in text and "dependencies.imds.concurrency" in text
    plot_cdf(cmp, tmp_path / "cdf.png", "t")
    assert (tmp_path / "cdf.png").stat().st_size > 1000


def test_the_probe_calls_each_operation_after_the_credentials_it_needs():
    probe = probe_scenario(small(), 10, 5.0, 3)
    calls = [s.call for s in probe.bootstrap.steps if s.call]
    assert calls[:2] == ["imds.PutToken", "imds.GetCredentials"]
    assert calls.count("secretsmanager.GetSecretValue") == 3 and calls.count("registry.Register") == 3
    assert probe.faults == [] and probe.fleet.size == 10 and probe.load.instances == 10


def test_apply_fit_writes_measured_service_times_and_only_saturated_capacities():
    fit = Fit(service={"secretsmanager.GetSecretValue": (0.02, 0.2, 40), "imds.PutToken": (0.004, 0.01, 40)},
              mean={"secretsmanager": 0.05, "imds": 0.006}, capacity={"secretsmanager": 200.0, "imds": 500.0},
              saturated={"secretsmanager": True, "imds": False})
    s = small()
    fitted = apply_fit(s, fit)
    op = fitted.dependencies["secretsmanager"].operations["GetSecretValue"].service_time
    assert (op.kind, op.median, op.p99) == ("lognormal", 0.02, 0.2)
    assert fitted.dependencies["secretsmanager"].concurrency == 10  # 200/s x 50 ms
    assert fitted.dependencies["imds"].concurrency == s.dependencies["imds"].concurrency
    assert any("not saturate" in p for p in fit.parameters)
    assert np.isclose(fitted.dependencies["imds"].operations["PutToken"].service_time.median, 0.004)
    assert fitted.bootstrap == s.bootstrap and fitted.faults == s.faults
