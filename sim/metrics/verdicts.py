"""SLO verdicts: each objective of the scenario checked against the measured metrics.

A verdict is ``pass``, ``fail``, ``unmeasured`` or ``not_applicable``. Unmeasured (the metric is
missing or NaN: the engine cannot measure it, nothing happened to measure, the run ended too
soon) fails the SLO, because an objective that cannot be shown to hold does not hold;
``allow_unmeasured`` lets such an SLO pass while it is still reported as unmeasured. Not
applicable: the SLO is scoped to other engines (``... on exec``); it neither passes nor fails
and does not count against the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.scenario.slos import SLO, metric_kind

__all__ = ["Verdict", "evaluate_slos", "parse_slos", "PASS", "FAIL", "UNMEASURED",
           "NOT_APPLICABLE"]

PASS, FAIL, UNMEASURED, NOT_APPLICABLE = "pass", "fail", "unmeasured", "not_applicable"


@dataclass(frozen=True)
class Verdict:
    """One SLO's outcome. ``measured`` and ``threshold`` are in base units (NaN: not measured).

    ``verdict`` is ``pass``, ``fail``, ``unmeasured`` or ``not_applicable``; ``passed`` is
    whether the SLO does not fail the run (an unmeasured SLO only when the run allowed unmeasured
    SLOs; a not applicable one always, though it did not pass either: see ``verdict``).
    ``engines``: the engines the SLO applies to (empty: every engine).
    """

    slo: str
    metric: str
    measured: float
    threshold: float
    op: str
    passed: bool
    kind: str = "count"  # how to show the numbers: ratio, duration, count, rate, per_mille, bool
    verdict: str = ""
    engines: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "engines", tuple(self.engines))  # a list from summary.json
        if not self.verdict:  # a summary.json written before verdicts had a name
            measured = self.measured == self.measured
            object.__setattr__(self, "verdict", PASS if self.passed and measured
                               else FAIL if measured else UNMEASURED)

    @property
    def unmeasured(self) -> bool:
        return self.verdict == UNMEASURED

    @property
    def not_applicable(self) -> bool:
        return self.verdict == NOT_APPLICABLE

    @property
    def failed(self) -> bool:
        """Counts against the run: a fail, or unmeasured without --allow-unmeasured."""
        return not self.passed


def parse_slos(raw: list) -> list[SLO]:
    """SLOs as the scenario holds them (strings or mappings) -> SLO objects."""
    return [item if isinstance(item, SLO) else SLO.model_validate(item) for item in raw or []]


def evaluate_slos(slos: list[SLO], metrics: dict[str, float], *, engine: str | None = None,
                  allow_unmeasured: bool = False) -> list[Verdict]:
    """One Verdict per SLO, in order. A metric that is missing or NaN is ``unmeasured``.

    Missing happens for a dependency the run did not have; NaN when the engine cannot measure
    the metric or nothing happened to measure (no fault to drain from, a run that ended before
    its last fault did). Unmeasured fails unless ``allow_unmeasured``. An SLO scoped to engines
    other than ``engine`` (the run's) is ``not_applicable``, whatever was measured; with
    ``engine`` None every SLO applies.
    """
    verdicts = []
    for slo in slos:
        measured = metrics.get(slo.metric, math.nan)
        measured = math.nan if measured is None else float(measured)
        if not slo.applies_to(engine):
            verdict, passed = NOT_APPLICABLE, True
        elif measured != measured:
            verdict, passed = UNMEASURED, allow_unmeasured
        else:
            passed = slo.holds(measured)
            verdict = PASS if passed else FAIL
        verdicts.append(Verdict(
            slo=slo.text, metric=slo.metric, measured=measured, threshold=slo.threshold,
            op=slo.op, passed=passed, kind=metric_kind(slo.metric) or "count", verdict=verdict,
            engines=slo.engines or (),
        ))
    return verdicts
