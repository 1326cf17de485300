"""One dependency's load over time: counts per interval and a latency histogram."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import InvalidRunFolder
from sim.results.attempts import _fmt
from sim.results.histogram import LATENCY_BIN_EDGES, N_BINS, percentile_from_histogram
from sim.results.reading import WRITTEN_BY, csv_cell_error, read_rows

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
        """The series ``write_csv`` and ``write_histogram`` wrote; a missing or bad file (or
        cell) is ``InvalidRunFolder`` naming it."""
        what = f"the load series of dependency {name!r} of {WRITTEN_BY}"
        header, rows = read_rows(csv_path, ("t",) + SERIES_FIELDS, what)
        n = len(rows)
        if n == 0:
            raise InvalidRunFolder(f"{csv_path}: no rows; expected {what}: one row per interval")
        index = {h: k for k, h in enumerate(header)}
        counts = {k: np.zeros(n, dtype=np.int64) for k in SERIES_FIELDS}
        times = []
        for i, (line, row) in enumerate(rows):
            try:
                times.append(float(row[index["t"]]))
            except ValueError:
                raise csv_cell_error(csv_path, line, "t", "a number (seconds)", row[index["t"]]) from None
            for k in SERIES_FIELDS:
                try:
                    counts[k][i] = int(row[index[k]])
                except ValueError:
                    raise csv_cell_error(csv_path, line, k, "an integer", row[index[k]]) from None
        interval = times[1] - times[0] if n > 1 else 1.0
        if not interval > 0:
            raise InvalidRunFolder(f"{csv_path}: column 't': expected increasing interval "
                                   f"starts, got {times[0]!r} then {times[1]!r}")
        hist = np.zeros((n, N_BINS), dtype=np.int64)
        if hist_path is not None and hist_path.exists():
            hist = _read_histogram(hist_path, n)
        return cls(name, interval, n, counts, hist, capacity_rps)


def _read_histogram(path: Path, n: int) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            hist = data["latency_hist"]
    except KeyError:
        raise InvalidRunFolder(f"{path}: no 'latency_hist' array; expected the latency "
                               f"histogram of {WRITTEN_BY}") from None
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError: numpy names no one class
        raise InvalidRunFolder(f"{path}: unreadable ({type(exc).__name__}: {exc}); expected "
                               f"the latency histogram (.npz) of {WRITTEN_BY}") from None
    if hist.shape != (n, N_BINS) or hist.dtype.kind not in "iu":
        raise InvalidRunFolder(f"{path}: latency_hist: expected integers of shape ({n}, "
                               f"{N_BINS}) (intervals x latency bins), got {hist.dtype} "
                               f"{hist.shape}")
    return hist.astype(np.int64, copy=False)
