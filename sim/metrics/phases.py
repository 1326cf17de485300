"""Where boot time goes: the time between consecutive marks (definitions: ``sim.metrics``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.results import MARKS, AttemptTable

from ._stats import percentile_value

__all__ = ["Phase", "phase_breakdown"]


@dataclass(frozen=True)
class Phase:
    """Seconds from the ``begin`` boundary to the ``end`` boundary over the attempts with both."""

    name: str
    begin: str
    end: str
    count: int
    p50: float
    p95: float


def _boundaries(table: AttemptTable) -> list[tuple[str, np.ndarray]]:
    """launch, bootstrap start, then the marks the scenario has, in their usual order."""
    marks = []
    for mark in MARKS:
        times = table.column("ready_time") if mark == "ready" else table.column(f"mark_{mark}")
        offset = times - table.column("start")
        if np.isnan(offset).all():
            continue  # this scenario has no such mark: skip the phase
        marks.append((float(np.nanmedian(offset)), mark, times))
    # Order marks by when they usually happen: bootstraps order their marks differently.
    marks.sort(key=lambda m: m[0])
    return [("launch", table.column("launch")), ("start", table.column("start"))] + [
        (mark, times) for _, mark, times in marks
    ]


def phase_breakdown(table: AttemptTable) -> list[Phase]:
    """Median and p95 of each phase: launch -> start (OS boot), start -> first mark, ...

    A phase runs from one boundary to the next in the usual order (marks sorted by their median
    time after start); attempts that lack either boundary are left out of that phase, and an
    attempt that reached the marks out of the usual order counts 0 for the inverted phase.
    """
    if len(table) == 0:
        return []
    bounds = _boundaries(table)
    phases = []
    for (begin, t0), (end, t1) in zip(bounds, bounds[1:]):
        took = t1 - t0
        took = np.maximum(took[~np.isnan(took)], 0.0)
        name = f"{begin} -> {end}" + (" (OS boot)" if end == "start" else "")
        phases.append(Phase(name, begin, end, int(took.size), percentile_value(took, 50),
                            percentile_value(took, 95)))
    return phases
