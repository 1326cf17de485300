"""The plots' clock: the scenario's, for every engine.

An exec or load run may compress the scenario's clock (``exec.time_scale``,
``load.time_scale``: its times are wall seconds, scenario seconds x time_scale), while every
number of its report is on the scenario's clock
(``sim.metrics.to_scenario_clock``). The plots take the run through ``on_scenario_clock``
first, so their time axes agree with the numbers, the SLO thresholds and a sim run of the same
scenario; ``clock_note`` says so in the axis labels.
"""

from __future__ import annotations

import dataclasses

from sim.results import DependencySeries, FaultWindow, Run

__all__ = ["on_scenario_clock", "clock_note"]


def clock_note(run: Run) -> str:
    """`` (scenario clock; ran at time_scale 0.1)`` for a scaled run, else nothing."""
    scale = run.meta.time_scale or 1.0
    return "" if scale == 1.0 else f" (scenario clock; ran at time_scale {scale:g})"


def on_scenario_clock(run: Run) -> Run:
    """``run`` with times divided by its time_scale (rates multiplied by it); the same Run
    when it is already on the scenario's clock."""
    scale = run.meta.time_scale or 1.0
    if scale == 1.0:
        return run
    deps = {name: DependencySeries(s.name, s.interval / scale, s.n, s.counts, s.latency_hist,
                                   s.capacity_rps * scale)
            for name, s in run.dependencies.items()}
    faults = [FaultWindow(f.kind, f.target, f.start / scale,
                          None if f.end is None else f.end / scale, f.params)
              for f in run.faults]
    meta = dataclasses.replace(run.meta, horizon=run.meta.horizon / scale,
                               sim_end=run.meta.sim_end / scale, time_scale=1.0)
    return Run(meta, run.attempts.rescaled(scale), deps, faults, run.scenario)
