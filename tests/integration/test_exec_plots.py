"""The plots of an exec run are on the scenario's clock, like a sim run's and like every number
of its report: a run at time_scale 0.1 (4 wall seconds for a 40-second story) draws launches
over the story's 16 seconds and its outage at 10-20 s, not at 1-2 wall seconds."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engines.exec import run
from sim.metrics import summarize
from sim.report.plots import draw_dependency_load, draw_time_to_ready
from tests.integration._exec_fixtures import scenario

SCALE = 0.1


@pytest.fixture(scope="module")
def scaled(fake_stack_session):
    faults = [{"at": "10s", "for": "10s", "target": "registry", "kind": "outage"}]
    result = run(scenario("sleep 0.1", size=5, over=20.0, faults=faults, horizon="40s",
                          exec_extra={"time_scale": SCALE, "ready_when": "exit_zero"}),
                 stack=fake_stack_session)
    assert result.meta.time_scale == SCALE and result.meta.horizon == pytest.approx(4.0)
    return result, summarize(result)


def _spans(ax) -> list[tuple[float, float]]:
    """x ranges of the shaded fault windows (axvspan rectangles/polygons)."""
    out = []
    for patch in ax.patches:
        x = patch.get_path().transformed(patch.get_patch_transform()).vertices[:, 0]
        out.append((float(x.min()), float(x.max())))
    return out


def test_time_to_ready_by_launch_is_drawn_over_the_scenario_clock(scaled):
    result, summary = scaled
    fig = draw_time_to_ready(result, summary)
    by_launch = fig.axes[1]
    launches = np.concatenate([c.get_offsets()[:, 0] for c in by_launch.collections
                               if len(c.get_offsets())])
    # Launches on the story's ramp: 0, 4, 8, 12, 16 s (wall: 0 .. 1.6 s).
    assert launches.max() == pytest.approx(16.0, abs=1.0)
    assert by_launch.get_xlim()[1] > 16.0
    assert "scenario clock" in by_launch.get_xlabel() and "0.1" in by_launch.get_xlabel()
    ttr = fig.axes[0]
    # The CDF's x range covers the scenario-clock times to ready (wall seconds x 10).
    wall_ttr = result.attempts.column("ready_time") - result.attempts.column("launch")
    assert ttr.get_xlim()[1] >= np.nanmax(wall_ttr) / SCALE
    assert "scenario clock" in ttr.get_xlabel()


def test_dependency_load_and_faults_are_on_the_scenario_clock(scaled):
    result, summary = scaled
    fig = draw_dependency_load(result, summary)
    ax = fig.axes[0]
    x_end = max(float(np.max(line.get_xdata())) for line in ax.get_lines()
                if len(line.get_xdata()) > 1)
    series = next(iter(result.dependencies.values()))
    # The last interval starts (n - 1) wall intervals in: that many scenario seconds / 0.1.
    assert x_end == pytest.approx((series.n - 1) * series.interval / SCALE)
    assert x_end >= 5.0 and ax.get_xlim()[1] > result.meta.sim_end  # not wall seconds
    registry = next(a for a in fig.axes if a.get_title(loc="left").startswith("registry"))
    (start, end), = [s for s in _spans(registry) if s[1] - s[0] > 1.0]
    # The outage as applied (wall 1-2 s, give or take the harness) is 10-20 s of the story.
    assert start == pytest.approx(10.0, abs=5.0) and end == pytest.approx(20.0, abs=5.0)
    assert "scenario clock" in fig.axes[-1].get_xlabel() or any(
        "scenario clock" in a.get_xlabel() for a in fig.axes)
