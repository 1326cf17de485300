"""One dependency's load over time: counts per interval and a latency histogram."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.results.attempts import _fmt
from sim.results.histogram import LATENCY_BIN_EDGES, N_BINS, percentile_from_histogram

__all__ = ["SERIES_FIELDS", "DependencySeries"]

SERIES_FIELDS = (
    "offered",  # calls that arrived (or tried to) in the interval, retries included
    "needed",  # logical calls started in the interval (first attempts): offered/needed = amplification
    "served",  # calls answered successfully
    "throttled",  # calls answered with a throttling error (quota, per-instance limit)
    "failed",  # calls answered with any other error (5xx, deny, expired credentials, reset)
    "timed_out",  # calls whose caller gave up (timeout, partition)
    "rejected",  # calls refused because the queue was full
    "wasted",  # work completed for callers who had already given up
    "bytes",  # payload bytes served (downloads)
    "peak_in_flight",  # most calls in the service at once during the interval
)


@dataclass
class DependencySeries:
    """One dependency's load over time, per interval of ``interval`` seconds."""

    name: str
    interval: float
    n: int
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    latency_hist: np.ndarray | None = None  # (n, bins) of served+failed call latencies
    capacity_rps: float = math.nan  # modelled or measured capacity, for validity checks

    @classmethod
    def empty(cls, name: str, interval: float, horizon: float, capacity_rps: float = math.nan):
        n = max(1, int(math.ceil(horizon / interval)))
        counts = {k: np.zeros(n, dtype=np.int64) for k in SERIES_FIELDS}
        return cls(name, interval, n, counts, np.zeros((n, N_BINS), dtype=np.int64), capacity_rps)

    def slot(self, t: float) -> int:
        i = int(t / self.interval)
        return i if i < self.n else self.n - 1

    def latency_percentile(self, q: float, per_interval: bool = True) -> np.ndarray | float:
        if not per_interval:
            return percentile_from_histogram(self.latency_hist.sum(axis=0), q)
        return np.array([percentile_from_histogram(row, q) for row in self.latency_hist])

    def write_csv(self, path: Path) -> None:
        p50 = self.latency_percentile(50)
        p99 = self.latency_percentile(99)
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["t"] + list(SERIES_FIELDS) + ["latency_p50", "latency_p99"])
            for i in range(self.n):
                row = [repr(i * self.interval)] + [int(self.counts[k][i]) for k in SERIES_FIELDS]
                w.writerow(row + [_fmt(p50[i]), _fmt(p99[i])])

    def write_histogram(self, path: Path) -> None:
        np.savez_compressed(path, latency_hist=self.latency_hist, edges=LATENCY_BIN_EDGES)

    @classmethod
    def read(cls, name: str, csv_path: Path, hist_path: Path | None, capacity_rps: float) -> "DependencySeries":
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        n = len(rows)
        interval = float(rows[1]["t"]) - float(rows[0]["t"]) if n > 1 else 1.0
        counts = {k: np.array([int(r[k]) for r in rows], dtype=np.int64) for k in SERIES_FIELDS}
        hist = np.zeros((n, N_BINS), dtype=np.int64)
        if hist_path is not None and hist_path.exists():
            hist = np.load(hist_path)["latency_hist"]
        return cls(name, interval, n, counts, hist, capacity_rps)


