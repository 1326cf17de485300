"""Two or three Runs of one scenario, side by side: how far the model is from the real fakes.

The reference is the load engine's Run (real HTTP against the real fakes); every other engine's
figure gets its relative error against it, ``(other - reference) / reference``. The
time-to-ready distributions are also compared whole, with the two-sample Kolmogorov-Smirnov
distance (``scipy.stats.ks_2samp``: the largest vertical gap between the two empirical CDFs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.metrics import summarize, time_to_ready
from sim.results import Run

__all__ = ["Row", "Comparison", "compare", "GOAL_RELATIVE", "GOAL_KS"]

GOAL_RELATIVE = 0.10  # time to ready p50/p95/p99 within 10 % of the load engine's
GOAL_KS = 0.10


@dataclass
class Row:
    metric: str
    values: dict[str, float]  # engine -> value
    errors: dict[str, float] = field(default_factory=dict)  # engine -> relative error vs reference


@dataclass
class Comparison:
    reference: str
    engines: list[str]
    rows: list[Row]
    ks: dict[str, float]  # engine -> KS distance of its time to ready vs the reference's
    ks_pvalue: dict[str, float]
    time_to_ready: dict[str, np.ndarray]

    def row(self, metric: str) -> Row:
        return next(r for r in self.rows if r.metric == metric)

    def goal(self, engine: str = "sim") -> tuple[bool, list[str]]:
        """The calibration goal for ``engine``, and what misses it."""
        misses = []
        for q in ("p50", "p95", "p99"):
            err = self.row(f"time_to_ready.{q}").errors.get(engine, math.nan)
            if not abs(err) <= GOAL_RELATIVE:
                misses.append(f"time_to_ready.{q} off by {err:+.0%}")
        ks = self.ks.get(engine, math.nan)
        if not ks < GOAL_KS:
            misses.append(f"KS distance {ks:.3f}")
        return not misses, misses


def relative_error(value: float, reference: float) -> float:
    if not (math.isfinite(value) and math.isfinite(reference)):
        return math.nan
    if reference == 0:
        return 0.0 if value == 0 else math.inf
    return (value - reference) / reference


def compare(runs: dict[str, Run], reference: str = "load") -> Comparison:
    from scipy.stats import ks_2samp

    if reference not in runs:
        raise ValueError(f"reference engine {reference!r} has no run; got {sorted(runs)}")
    summaries = {name: summarize(run) for name, run in runs.items()}
    engines = [reference] + [n for n in runs if n != reference]
    metrics = ["time_to_ready.p50", "time_to_ready.p95", "time_to_ready.p99", "bootstrap_success_rate",
               "attempts_per_instance.mean"]
    deps = sorted({d for run in runs.values() for d in run.dependencies})
    rows = [Row(m, {n: float(summaries[n].metrics.get(m, math.nan)) for n in engines}) for m in metrics]
    for dep in deps:
        for label, key in (("calls", "offered"), ("throttled", "throttled"), ("timed_out", "timed_out"),
                           ("failed", "failed")):
            values = {n: float(runs[n].dependencies[dep].counts[key].sum()) if dep in runs[n].dependencies
                      else math.nan for n in engines}
            rows.append(Row(f"{dep}.{label}", values))
        rows.append(Row(f"{dep}.retry_amplification",
                        {n: float(summaries[n].dependency(dep).get("retry_amplification", math.nan))
                         for n in engines}))
    for r in rows:
        r.errors = {n: relative_error(r.values[n], r.values[reference]) for n in engines if n != reference}
    ttr = {n: np.asarray(time_to_ready(runs[n].attempts), dtype=float) for n in engines}
    ks, pvalue = {}, {}
    for n in engines:
        if n == reference:
            continue
        if len(ttr[n]) and len(ttr[reference]):
            res = ks_2samp(ttr[n], ttr[reference])
            ks[n], pvalue[n] = float(res.statistic), float(res.pvalue)
        else:
            ks[n] = pvalue[n] = math.nan
    return Comparison(reference, engines, rows, ks, pvalue, ttr)
