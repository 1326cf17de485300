"""Shared numeric helpers for the metrics: percentile sets and safe ratios."""

from __future__ import annotations

import math

import numpy as np

from sim.scenario.slos import PERCENTILES

__all__ = ["distribution", "ratio", "percentile_value"]

# "p99.9" -> 99.9; "max"/"mean" are handled apart.
_QUANTILES = [float(p[1:]) for p in PERCENTILES if p.startswith("p")]


def distribution(values: np.ndarray) -> dict[str, float]:
    """p50 .. p99.9, max and mean of ``values`` (NaNs dropped); all NaN when nothing is left."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {p: math.nan for p in PERCENTILES}
    # One call: numpy partitions once for all quantiles.
    qs = np.percentile(values, _QUANTILES)
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
