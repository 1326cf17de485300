"""Shared numeric helpers for the metrics: percentile sets and safe ratios."""

from __future__ import annotations

import math

import numpy as np

from sim.scenario.slos import PERCENTILES

__all__ = ["distribution", "ratio", "percentile_value"]

# "p99.9" -> 99.9; "max"/"mean" are handled apart.
_QUANTILES = [float(p[1:]) for p in PERCENTILES if p.startswith("p")]


# +inf stands in for "never" (an instance that never became ready). numpy interpolating
# between two infinities gives NaN (inf - inf), so infinities are swapped for this stand-in,
# and any percentile that reaches into it (interpolating towards "never") is "never".
_NEVER = np.finfo(np.float64).max / 4
_NEVER_FROM = _NEVER * 1e-10


def distribution(values: np.ndarray) -> dict[str, float]:
    """p50 .. p99.9, max and mean of ``values`` (NaNs dropped); all NaN when nothing is left.

    ``+inf`` values count: a percentile at or interpolated towards one is ``inf``, and so are
    ``max`` and ``mean``.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {p: math.nan for p in PERCENTILES}
    infinite = np.isposinf(values)
    if infinite.any():
        values = np.where(infinite, _NEVER, values)
    # One call: numpy partitions once for all quantiles.
    qs = np.percentile(values, _QUANTILES)
    if infinite.any():
        qs = np.where(qs >= _NEVER_FROM, math.inf, qs)
        values = np.where(infinite, math.inf, values)
    out = {f"p{q:g}": float(v) for q, v in zip(_QUANTILES, qs)}
    out["max"] = float(values.max())
    out["mean"] = float(values.mean())
    return {p: out[p] for p in PERCENTILES}


def percentile_value(values: np.ndarray, q: float) -> float:
    """The q-th percentile of the non-NaN ``values``; NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(np.percentile(values, q)) if values.size else math.nan


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero (nothing to measure)."""
    return float(numerator) / float(denominator) if denominator else math.nan
