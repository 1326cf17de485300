"""Per-dependency series as the exec and load engines build them from what the fakes saw.

`series_book` makes a dependency's `DependencySeries` the first time a call to it is counted
(every dependency the scenario names gets one even if nothing called it); `add_peak_in_flight`
turns (arrival, answer) times into the most calls in flight per interval; `capacity_of` is
the documented capacity of the fake behind a dependency, for the validity checks.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from sim.results import DependencySeries

__all__ = ["series_book", "add_peak_in_flight", "capacity_of", "GATE_SERVICES"]

GATE_SERVICES = ("secretsmanager", "ssm", "sts", "iam")


def capacity_of(dependency: str, capacity: dict[str, dict[str, Any]]) -> float:
    """Requests per second the fake behind ``dependency`` is documented to handle."""
    fake = ("imds" if dependency == "imds" else "sinks" if dependency in ("registry", "telemetry")
            else "moto" if dependency in GATE_SERVICES else None)
    rps = (capacity.get(fake) or {}).get("rps") if fake else None
    return float(rps) if rps else math.nan


def series_book(names: Iterable[str], interval: float, horizon: float,
                capacity: dict[str, dict[str, Any]]
                ) -> tuple[dict[str, DependencySeries], Callable[[str], DependencySeries]]:
    """``(series, get)``: the series by dependency, one for each of ``names`` already, and
    ``get(name)``, which returns a dependency's series, making it on first sight."""
    series: dict[str, DependencySeries] = {}

    def get(name: str) -> DependencySeries:
        s = series.get(name)
        if s is None:
            s = series[name] = DependencySeries.empty(name, interval, horizon, capacity_of(name, capacity))
        return s

    for name in names:
        get(name)
    return series, get


def add_peak_in_flight(s: DependencySeries, spans: Iterable[tuple[float, float]]) -> None:
    """Most calls in the dependency at once per interval, from (arrival, answer) times; at
    equal times an answer leaves before an arrival enters."""
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = 0
    peak = s.counts["peak_in_flight"]
    for t, step in edges:
        level += step
        i = s.slot(max(t, 0.0))
        if level > peak[i]:
            peak[i] = level
