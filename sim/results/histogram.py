"""Latency histograms: log-spaced bins, so percentiles per interval need no stored calls."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "LATENCY_BIN_EDGES", "N_BINS", "BINS_PER_DECADE", "LOG_LOW", "latency_bin",
    "percentile_from_histogram",
]

# Latency histogram bins: log-spaced from 100 µs to ~1 h (plus underflow/overflow), so
# percentiles per interval are within ~6 % without keeping individual calls.
BINS_PER_DECADE = 40
LATENCY_BIN_EDGES = np.concatenate(
    ([0.0], np.logspace(-4, math.log10(3600.0), int(BINS_PER_DECADE * 7.56) + 1), [math.inf])
)
LOG_LOW = -4.0
N_BINS = len(LATENCY_BIN_EDGES) - 1


def latency_bin(seconds: float) -> int:
    """Index of the histogram bin holding ``seconds`` (fast: no search)."""
    if seconds <= 1e-4:
        return 0
    i = int((math.log10(seconds) - LOG_LOW) * BINS_PER_DECADE) + 1  # inlined in sim/engines/sim
    return i if i < N_BINS else N_BINS - 1


def percentile_from_histogram(counts: np.ndarray, q: float) -> float:
    """The q-th percentile (0..100) of a latency histogram; NaN when it is empty.

    Returns the upper edge of the bin where the percentile falls (conservative for SLOs).
    """
    total = counts.sum()
    if total <= 0:
        return math.nan
    target = q / 100.0 * total
    idx = int(np.searchsorted(np.cumsum(counts), target, side="left"))
    idx = min(idx, N_BINS - 1)
    edge = LATENCY_BIN_EDGES[idx + 1]
    return float(edge if math.isfinite(edge) else LATENCY_BIN_EDGES[idx])


