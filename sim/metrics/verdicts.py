"""SLO verdicts: each objective of the scenario checked against the measured metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.scenario.slos import SLO, metric_kind

__all__ = ["Verdict", "evaluate_slos", "parse_slos"]


@dataclass(frozen=True)
class Verdict:
    """One SLO's outcome. ``measured`` and ``threshold`` are in base units (NaN: not measured)."""

    slo: str
    metric: str
    measured: float
    threshold: float
    op: str
    passed: bool
    kind: str = "count"  # how to show the numbers: ratio, duration, count, rate, per_mille, bool


def parse_slos(raw: list) -> list[SLO]:
    """SLOs as the scenario holds them (strings or mappings) -> SLO objects."""
    return [item if isinstance(item, SLO) else SLO.model_validate(item) for item in raw or []]


def evaluate_slos(slos: list[SLO], metrics: dict[str, float]) -> list[Verdict]:
    """One Verdict per SLO, in order. A metric that is missing or NaN fails its SLO.

    Missing happens for a dependency the run did not have; NaN when nothing was measured
    (nobody became ready, no fault to drain from): an objective that cannot be shown to hold
    does not hold.
    """
    verdicts = []
    for slo in slos:
        measured = metrics.get(slo.metric, math.nan)
        measured = math.nan if measured is None else float(measured)
        verdicts.append(Verdict(
            slo=slo.text, metric=slo.metric, measured=measured, threshold=slo.threshold,
            op=slo.op, passed=slo.holds(measured), kind=metric_kind(slo.metric) or "count",
        ))
    return verdicts
