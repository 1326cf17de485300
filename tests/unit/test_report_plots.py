"""The plots: legends never on the data, the quota a storm runs into is drawn, no absurd
capacity figures, durations and rates formatted as in the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario, run_scenario
from sim.report._figures import DurationLocator, _tick_seconds, figure, legend_overlaps
from sim.report.plots import (draw_dependency_load, draw_phases, draw_retries,
                              draw_time_to_ready, quotas)
from sim.results import FaultWindow
from test_report_files import small_run

ROOT = Path(__file__).resolve().parents[2]
DRAW = (draw_time_to_ready, draw_dependency_load, draw_retries, draw_phases)


@pytest.fixture(scope="module")
def storm():
    scenario = load_scenario(ROOT / "scenarios" / "autoscale-storm.yaml",
                             ["fleet.size=600", "fleet.arrival.over=4s"])
    outcome = run_scenario(scenario, out_dir=None)
    return outcome.run, outcome.summary


def _panel(fig, name):
    (ax,) = [a for a in fig.axes if a.get_title(loc="left").startswith(name + ":")]
    return ax


def test_the_overlap_check_catches_a_legend_on_the_data():
    fig, axes = figure(6, 4)
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="upper left")
    fig.canvas.draw()
    assert legend_overlaps(fig) != []


@pytest.mark.parametrize("draw", DRAW, ids=[d.__name__ for d in DRAW])
def test_no_legend_covers_data(draw, storm):
    run = small_run(slos=["time_to_ready.p95 <= 30s", "time_to_ready_of_ready.p99 <= 1m",
                          "bootstrap_success_rate >= 99%"])
    run.faults += [FaultWindow("latency", "sts", 30.0, 40.0, {"latency": 1.0}),
                   FaultWindow("expire_credentials", "instances", 45.0, 60.0)]
    from sim.metrics import summarize

    for r, s in ((run, summarize(run)), storm):
        fig = draw(r, s)
        fig.canvas.draw()
        assert legend_overlaps(fig) == [], draw.__name__


def test_the_storm_plot_draws_the_ssm_quota_and_no_absurd_capacity(storm):
    run, summary = storm
    assert quotas(run.scenario, "ssm") == {"GetParameter": 40.0}
    fig = draw_dependency_load(run, summary)
    ssm = _panel(fig, "ssm")
    quota_lines = [line for line in ssm.get_lines() if line.get_label() == "quota"]
    assert [tuple(line.get_ydata()) for line in quota_lines] == [(40.0, 40.0)]
    assert "quota GetParameter 40/s" in ssm.get_title(loc="left")
    assert any(t.get_text() == "quota GetParameter 40/s" for t in ssm.texts)
    # IMDS's modelled capacity is tens of millions per second: neither drawn nor printed.
    imds = _panel(fig, "imds")
    assert "capacity" not in imds.get_title(loc="left")
    assert not [line for line in imds.get_lines() if "capacity" in line.get_label()]
    # Secrets Manager's 10,000/s quota is far above its load: in the title, not as a line.
    secrets = _panel(fig, "secretsmanager")
    assert "quota GetSecretValue 10,000/s" in secrets.get_title(loc="left")
    assert not [line for line in secrets.get_lines() if line.get_label() == "quota"]
    assert secrets.get_ylim()[1] < 1000


@pytest.mark.parametrize("engine", ["exec", "load"])
def test_a_compressed_run_is_drawn_on_the_scenario_clock_with_the_scenarios_quota(storm, engine):
    # time_scale 0.5: the gate held GetParameter at 40 per scenario second = 80 per wall second
    # (sim.engines.live.stack); the panel is on the scenario's clock (sim.report.clock), where
    # that is the scenario's 40/s, and the calls per wall second are halved per scenario second.
    import dataclasses

    run, summary = storm
    plain = _panel(draw_dependency_load(run, summary), "ssm")
    scaled_run = type(run)(dataclasses.replace(run.meta, engine=engine, time_scale=0.5),
                           run.attempts, run.dependencies, run.faults, run.scenario)
    ssm = _panel(draw_dependency_load(scaled_run, summary), "ssm")
    quota_lines = [line for line in ssm.get_lines() if line.get_label() == "quota"]
    assert [tuple(line.get_ydata()) for line in quota_lines] == [(40.0, 40.0)]
    assert any(t.get_text() == "quota GetParameter 40/s" for t in ssm.texts)

    def offered(ax):
        return next(line for line in ax.get_lines() if line.get_label() == "offered")

    assert offered(ssm).get_ydata() == pytest.approx(offered(plain).get_ydata() * 0.5)
    assert offered(ssm).get_xdata()[-1] == pytest.approx(offered(plain).get_xdata()[-1] * 2)
    assert "time_scale 0.5" in ssm.get_xlabel() or any(
        "time_scale 0.5" in ax.get_xlabel() for ax in ssm.figure.axes)


def test_a_throttle_fault_draws_its_quota_over_its_window(storm):
    run, summary = storm
    run = type(run)(run.meta, run.attempts, run.dependencies,
                    [FaultWindow("throttle", "ssm.GetParameter", 10.0, 20.0,
                                 {"quota": {"rate": 5.0, "burst": 5.0}})], run.scenario)
    ssm = _panel(draw_dependency_load(run, summary), "ssm")
    (throttle,) = [c for c in ssm.collections if c.get_label() == "quota during a throttle fault"]
    (segment,) = throttle.get_segments()
    assert segment.tolist() == [[10.0, 5.0], [20.0, 5.0]]


def test_time_axes_tick_on_round_durations_in_the_report_format():
    assert DurationLocator().tick_values(0, 360) == [0, 60, 120, 180, 240, 300, 360]
    assert DurationLocator().tick_values(0, 50) == [0, 10, 20, 30, 40, 50]
    assert DurationLocator().tick_values(0, 7200)[:3] == [0, 900, 1800]
    assert [_tick_seconds(v) for v in (0, 30, 60, 90, 3600)] == ["0s", "30s", "1m00s", "1m30s",
                                                                 "1h00m"]
    assert _tick_seconds(-10) == ""
