"""The one result schema every engine writes: a Run.

A Run holds, and only holds, what happened:

- ``attempts``: one row per boot attempt (an instance may boot several times), columnar so a
  million rows stay compact: launch, bootstrap start, end, ready time, outcome, error class,
  failed step, retries and calls (total and per step), the times of the marks
  (``agent_started``, ``secret_fetched``, ``app_started``, ``config_validated``, ``ready``), CPU
  seconds where known, findings (exec engine).
- ``dependencies``: per dependency, per interval (1 s by default): offered, served, throttled,
  failed, timed out, rejected, work done for callers who had given up, bytes, peak in flight,
  and a latency histogram so percentiles per interval come out without keeping any call.
- ``faults``: the fault timeline as applied.
- ``meta``: engine, seed, scenario name and hash, versions, wall time, validity warnings,
  whether the run is partial.

Metrics are computed from a Run only (``sim.metrics``), never inside an engine.
"""

from __future__ import annotations

import csv
import json
import math
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "OUTCOMES",
    "MARKS",
    "LATENCY_BIN_EDGES",
    "AttemptTable",
    "DependencySeries",
    "FaultWindow",
    "RunMeta",
    "Run",
    "latency_bin",
    "percentile_from_histogram",
]

# ready: reached the ready mark. failed: a step failed for good (error_class says why).
# hung: killed at the boot timeout / health-check grace while still working.
# unfinished: still booting when the run's horizon ended.
OUTCOMES = ("ready", "failed", "hung", "unfinished")
MARKS = ("agent_started", "secret_fetched", "app_started", "config_validated", "ready")

# Latency histogram bins: log-spaced from 100 µs to ~1 h (plus underflow/overflow), so
# percentiles per interval are within ~6 % without keeping individual calls.
_BINS_PER_DECADE = 40
LATENCY_BIN_EDGES = np.concatenate(
    ([0.0], np.logspace(-4, math.log10(3600.0), int(_BINS_PER_DECADE * 7.56) + 1), [math.inf])
)
_LOG_LOW = -4.0
_N_BINS = len(LATENCY_BIN_EDGES) - 1


def latency_bin(seconds: float) -> int:
    """Index of the histogram bin holding ``seconds`` (fast: no search)."""
    if seconds <= 1e-4:
        return 0
    i = int((math.log10(seconds) - _LOG_LOW) * _BINS_PER_DECADE) + 1
    return i if i < _N_BINS else _N_BINS - 1


def percentile_from_histogram(counts: np.ndarray, q: float) -> float:
    """The q-th percentile (0..100) of a latency histogram; NaN when it is empty.

    Returns the upper edge of the bin where the percentile falls (conservative for SLOs).
    """
    total = counts.sum()
    if total <= 0:
        return math.nan
    target = q / 100.0 * total
    idx = int(np.searchsorted(np.cumsum(counts), target, side="left"))
    idx = min(idx, _N_BINS - 1)
    edge = LATENCY_BIN_EDGES[idx + 1]
    return float(edge if math.isfinite(edge) else LATENCY_BIN_EDGES[idx])


_FLOAT_COLUMNS = ("launch", "start", "end", "ready_time", "cpu_seconds") + tuple(
    f"mark_{m}" for m in MARKS
)
_INT_COLUMNS = ("instance", "attempt", "retries", "calls")


class AttemptTable:
    """Columnar per-attempt records. Engines append; reports read numpy arrays.

    Times are seconds from the start of the run; NaN where something never happened.
    """

    def __init__(self, steps: list[str]):
        self.steps = list(steps)
        self._floats = {name: array("d") for name in _FLOAT_COLUMNS}
        self._ints = {name: array("q") for name in _INT_COLUMNS}
        self._step_retries = array("q")  # row-major: n_rows x n_steps
        self.outcome: list[str] = []
        self.error_class: list[str] = []
        self.failed_step: list[str] = []
        self.findings: list[str] = []  # ';'-joined finding names (exec engine)

    def __len__(self) -> int:
        return len(self.outcome)

    def append(
        self,
        *,
        instance: int,
        attempt: int,
        launch: float,
        start: float,
        end: float,
        ready_time: float,
        outcome: str,
        error_class: str = "",
        failed_step: str = "",
        retries: int = 0,
        calls: int = 0,
        step_retries: list[int] | None = None,
        marks: dict[str, float] | None = None,
        cpu_seconds: float = math.nan,
        findings: str = "",
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        f = self._floats
        f["launch"].append(launch)
        f["start"].append(start)
        f["end"].append(end)
        f["ready_time"].append(ready_time)
        f["cpu_seconds"].append(cpu_seconds)
        marks = marks or {}
        for m in MARKS:
            f[f"mark_{m}"].append(marks.get(m, math.nan))
        i = self._ints
        i["instance"].append(instance)
        i["attempt"].append(attempt)
        i["retries"].append(retries)
        i["calls"].append(calls)
        per_step = step_retries or [0] * len(self.steps)
        if len(per_step) != len(self.steps):
            raise ValueError(f"step_retries has {len(per_step)} entries, expected {len(self.steps)}")
        self._step_retries.extend(per_step)
        self.outcome.append(outcome)
        self.error_class.append(error_class)
        self.failed_step.append(failed_step)
        self.findings.append(findings)

    def column(self, name: str) -> np.ndarray:
        """A numeric column as a numpy array (a view where possible)."""
        if name in self._floats:
            return np.frombuffer(self._floats[name], dtype=np.float64) if len(self) else np.zeros(0)
        if name in self._ints:
            return np.frombuffer(self._ints[name], dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        if name in ("outcome", "error_class", "failed_step", "findings"):
            return np.asarray(getattr(self, name), dtype=object)
        raise KeyError(f"no attempt column {name!r}")

    def step_retries(self) -> np.ndarray:
        """Retries per attempt per step: shape (attempts, steps)."""
        if not len(self):
            return np.zeros((0, len(self.steps)), dtype=np.int64)
        return np.frombuffer(self._step_retries, dtype=np.int64).reshape(
            len(self), len(self.steps)
        )

    # -- files -------------------------------------------------------------------------
    def write_csv(self, path: Path) -> None:
        cols = list(_INT_COLUMNS) + list(_FLOAT_COLUMNS)
        header = cols + ["outcome", "error_class", "failed_step", "findings"] + [
            f"retries_{s}" for s in self.steps
        ]
        numeric = [self.column(c) for c in cols]
        per_step = self.step_retries()
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in range(len(self)):
                row = [_fmt(col[r]) for col in numeric]
                row += [self.outcome[r], self.error_class[r], self.failed_step[r], self.findings[r]]
                row += per_step[r].tolist()
                w.writerow(row)

    @classmethod
    def read_csv(cls, path: Path) -> "AttemptTable":
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            steps = [h[len("retries_") :] for h in header if h.startswith("retries_")]
            table = cls(steps)
            idx = {h: k for k, h in enumerate(header)}
            for row in reader:
                fl = lambda n: float(row[idx[n]]) if row[idx[n]] != "" else math.nan  # noqa: E731
                table.append(
                    instance=int(row[idx["instance"]]),
                    attempt=int(row[idx["attempt"]]),
                    launch=fl("launch"),
                    start=fl("start"),
                    end=fl("end"),
                    ready_time=fl("ready_time"),
                    outcome=row[idx["outcome"]],
                    error_class=row[idx["error_class"]],
                    failed_step=row[idx["failed_step"]],
                    retries=int(row[idx["retries"]]),
                    calls=int(row[idx["calls"]]),
                    step_retries=[int(row[idx[f"retries_{s}"]]) for s in steps],
                    marks={m: fl(f"mark_{m}") for m in MARKS},
                    cpu_seconds=fl("cpu_seconds"),
                    findings=row[idx["findings"]],
                )
        return table


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    return str(v)


_SERIES_FIELDS = (
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
        counts = {k: np.zeros(n, dtype=np.int64) for k in _SERIES_FIELDS}
        return cls(name, interval, n, counts, np.zeros((n, _N_BINS), dtype=np.int64), capacity_rps)

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
            w.writerow(["t"] + list(_SERIES_FIELDS) + ["latency_p50", "latency_p99"])
            for i in range(self.n):
                row = [repr(i * self.interval)] + [int(self.counts[k][i]) for k in _SERIES_FIELDS]
                w.writerow(row + [_fmt(p50[i]), _fmt(p99[i])])

    def write_histogram(self, path: Path) -> None:
        np.savez_compressed(path, latency_hist=self.latency_hist, edges=LATENCY_BIN_EDGES)

    @classmethod
    def read(cls, name: str, csv_path: Path, hist_path: Path | None, capacity_rps: float) -> "DependencySeries":
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        n = len(rows)
        interval = float(rows[1]["t"]) - float(rows[0]["t"]) if n > 1 else 1.0
        counts = {k: np.array([int(r[k]) for r in rows], dtype=np.int64) for k in _SERIES_FIELDS}
        hist = np.zeros((n, _N_BINS), dtype=np.int64)
        if hist_path is not None and hist_path.exists():
            hist = np.load(hist_path)["latency_hist"]
        return cls(name, interval, n, counts, hist, capacity_rps)


@dataclass
class FaultWindow:
    """A fault as applied: from ``start`` to ``end`` (seconds from run start)."""

    kind: str
    target: str
    start: float
    end: float
    params: dict = field(default_factory=dict)


@dataclass
class RunMeta:
    engine: str
    seed: int
    scenario_name: str
    scenario_hash: str
    scenario_file: str | None
    horizon: float
    started_at: str  # ISO 8601 wall clock
    wall_seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # validity warnings
    partial: bool = False  # interrupted: what is here is what had happened so far
    sim_end: float = 0.0  # simulated/elapsed seconds the run covered
    instances: int = 0


@dataclass
class Run:
    meta: RunMeta
    attempts: AttemptTable
    dependencies: dict[str, DependencySeries]
    faults: list[FaultWindow]
    scenario: dict  # the validated scenario, as plain data (SLOs, names, settings)

    def write(self, folder: Path) -> None:
        """Write the raw run (not the report) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.json").write_text(json.dumps(asdict(self.meta), indent=2, default=_json))
        (folder / "scenario.json").write_text(json.dumps(self.scenario, indent=2, default=_json))
        (folder / "faults.json").write_text(
            json.dumps([asdict(f) for f in self.faults], indent=2, default=_json)
        )
        self.attempts.write_csv(folder / "attempts.csv")
        deps = folder / "dependencies"
        deps.mkdir(exist_ok=True)
        caps = {}
        for name, series in self.dependencies.items():
            series.write_csv(deps / f"{name}.csv")
            series.write_histogram(deps / f"{name}.latency.npz")
            caps[name] = series.capacity_rps
        (deps / "capacity.json").write_text(json.dumps(caps, default=_json))

    @classmethod
    def read(cls, folder: Path) -> "Run":
        folder = Path(folder)
        meta = RunMeta(**json.loads((folder / "run.json").read_text()))
        scenario = json.loads((folder / "scenario.json").read_text())
        faults = [FaultWindow(**f) for f in json.loads((folder / "faults.json").read_text())]
        attempts = AttemptTable.read_csv(folder / "attempts.csv")
        deps_dir = folder / "dependencies"
        caps = json.loads((deps_dir / "capacity.json").read_text()) if deps_dir.exists() else {}
        deps = {}
        for name, cap in caps.items():
            deps[name] = DependencySeries.read(
                name, deps_dir / f"{name}.csv", deps_dir / f"{name}.latency.npz",
                math.nan if cap is None else cap,
            )
        return cls(meta, attempts, deps, faults, scenario)


def _json(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
