"""Per-attempt records, columnar: one row per boot attempt."""

from __future__ import annotations

import csv
import math
from array import array
from itertools import chain
from pathlib import Path

import numpy as np

from sim.errors import InvalidRunFolder
from sim.results.reading import WRITTEN_BY, csv_cell_error, read_rows

__all__ = ["OUTCOMES", "MARKS", "AttemptTable"]

# ready: reached the ready mark. failed: a step failed for good (error_class says why).
# hung: killed at the boot timeout / health-check grace while still working.
# unfinished: still booting when the run's horizon ended.
OUTCOMES = ("ready", "failed", "hung", "unfinished")
MARKS = ("agent_started", "secret_fetched", "app_started", "config_validated", "ready")

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
        self._mark_columns = tuple((m, self._floats[f"mark_{m}"]) for m in MARKS)
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
        if marks:
            for m, column in self._mark_columns:
                column.append(marks.get(m, math.nan))
        else:
            for _, column in self._mark_columns:
                column.append(math.nan)
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

    def rescaled(self, factor: float) -> "AttemptTable":
        """A copy with every time (launch, start, end, ready, marks) divided by ``factor``:
        an exec run's wall seconds back on the scenario's clock. CPU seconds stay as measured."""
        table = AttemptTable(self.steps)
        for name in self._floats:
            values = self.column(name)
            values = values if name == "cpu_seconds" else values / factor
            table._floats[name].frombytes(np.ascontiguousarray(values, np.float64).tobytes())
        for name, column in self._ints.items():
            table._ints[name].extend(column)
        table._step_retries.extend(self._step_retries)
        for name in _TEXT_COLUMNS:
            getattr(table, name).extend(getattr(self, name))
        return table

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
        """The table ``write_csv`` wrote, exactly (floats are written with ``repr``).

        A missing, truncated or edited file is ``InvalidRunFolder`` naming the line, the
        column, what was expected and what was given. The fast path assumes a good file; only
        when it fails is the file read again row by row to say where.
        """
        path = Path(path)
        if path.is_file():
            try:
                return cls._read_csv_fast(path)
            except (ValueError, KeyError, StopIteration, OverflowError, csv.Error):
                pass
        _find_problem(path)
        raise InvalidRunFolder(f"{path}: unreadable; expected {_WHAT}")  # not reached

    @classmethod
    def _read_csv_fast(cls, path: Path) -> "AttemptTable":
        """Column-wise: the cells are read once, each column sliced out and converted with one
        ``map`` into its typed array, instead of one ``append`` per row (what ``bootstorm
        report`` pays to re-read a run folder: a storm has 48k attempts).
        """
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        width = len(header)
        if set(map(len, rows)) - {width} or len(set(header)) != width:
            raise ValueError(f"{path}: a row of other than {width} cells, or a column twice")
        # One flat list of cells, then every column is a strided slice (C speed); faster
        # than zip(*rows) over 48k row lists.
        cells = list(chain.from_iterable(rows))
        steps = [h[len("retries_") :] for h in header if h.startswith("retries_")]
        table = cls(steps)
        columns = {h: cells[k::width] for k, h in enumerate(header)}
        # Extend the new table's own arrays (never replace them): append() may hold references.
        for name in _FLOAT_COLUMNS:
            table._floats[name].extend(_floats(columns[name]))
        for name in _INT_COLUMNS:
            table._ints[name].extend(array("q", map(int, columns[name])))
        for name in _TEXT_COLUMNS:
            getattr(table, name).extend(columns[name])
        bad = set(table.outcome) - set(OUTCOMES)
        if bad:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {sorted(bad)[0]!r}")
        if steps and table.outcome:  # row-major, as append() lays it out: row 0's steps, then row 1's
            per_step = [np.frombuffer(array("q", map(int, columns[f"retries_{s}"])), np.int64)
                        for s in steps]
            table._step_retries.frombytes(np.column_stack(per_step).tobytes())
        return table


_TEXT_COLUMNS = ("outcome", "error_class", "failed_step", "findings")
_WHAT = "the attempts table (attempts.csv) of " + WRITTEN_BY


def _find_problem(path: Path) -> None:
    """Raise ``InvalidRunFolder`` for the first bad line or cell of an attempts.csv."""
    required = _INT_COLUMNS + _FLOAT_COLUMNS + _TEXT_COLUMNS
    header, rows = read_rows(path, required, _WHAT)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise InvalidRunFolder(f"{path}: line 1: column {duplicated[0]!r} appears more than "
                               f"once; expected {_WHAT}")
    ints = [(k, h) for k, h in enumerate(header) if h in _INT_COLUMNS or h.startswith("retries_")]
    floats = [(k, h) for k, h in enumerate(header) if h in _FLOAT_COLUMNS]
    outcome = header.index("outcome")
    for line, row in rows:
        for k, name in ints:
            try:
                int(row[k])
            except ValueError:
                raise csv_cell_error(path, line, name, "an integer", row[k]) from None
        for k, name in floats:
            try:
                float(row[k]) if row[k] else None
            except ValueError:
                raise csv_cell_error(path, line, name, "a number (empty: never happened)",
                                     row[k]) from None
        if row[outcome] not in OUTCOMES:
            raise csv_cell_error(path, line, "outcome", f"one of {', '.join(OUTCOMES)}",
                                 row[outcome])


def _floats(texts) -> array:
    """Float column; an empty cell (never happened) is NaN."""
    if "" not in texts:  # map(float) runs in C: the common case of a column with no gaps
        return array("d", map(float, texts))
    return array("d", [float(v) if v else math.nan for v in texts])


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    return str(v)


