"""Many runs -> statistics per point, and the sweep's table (CSV and Parquet).

The table has one row per run (``row == "run"``: the metric values of one seed, each SLO as
1/0) and one row per point (``row == "point"``: every metric's mean over seeds with its 95%
interval in ``<metric>.ci_low`` / ``<metric>.ci_high``, each SLO's pass probability).

A metric that was +inf ("never") in some seeds of a point has the mean +inf and no interval
(empty ``ci_low``/``ci_high``, or +inf when every seed was never); its column
``<metric>.never`` holds the share of seeds that never reached it, at every point (0 where
all did). A metric never +inf anywhere in the sweep has no such column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.decide.stats import Interval, metric_interval

__all__ = ["PointStats", "aggregate", "run_rows", "point_rows", "write_table", "ALL_SLOS"]

ALL_SLOS = "slo:all"  # the column with the probability that every SLO passes together


@dataclass
class PointStats:
    """Statistics of one point over its seeds."""

    n: int
    metrics: dict[str, Interval]
    slo_pass: dict[str, float]  # SLO text -> share of seeds where it passed
    all_pass: float  # share of seeds where every SLO passed
    slos: list[str]

    def binding_slo(self) -> str | None:
        """The SLO least often met (ties: the first in the scenario), None with no SLOs."""
        if not self.slos:
            return None
        return min(self.slos, key=lambda s: (self.slo_pass.get(s, 0.0), self.slos.index(s)))


def aggregate(records: list[dict], slos: list[str], seed: int = 0) -> PointStats:
    """Means and intervals over ``records`` (the dicts ``run_task`` returns, same point)."""
    rng = np.random.default_rng(seed)
    names: list[str] = []
    for r in records:
        names += [k for k in r["metrics"] if k not in names]
    metrics = {
        name: metric_interval(name, [_f(r["metrics"].get(name)) for r in records], rng)
        for name in names
    }
    n = len(records)
    slo_pass = {s: (sum(bool(r["slos"].get(s, False)) for r in records) / n if n else math.nan)
                for s in slos}
    all_pass = (sum(all(r["slos"].get(s, False) for s in slos) for r in records) / n
                if n else math.nan)
    return PointStats(n, metrics, slo_pass, all_pass, list(slos))


def _f(v) -> float:
    return math.nan if v is None else float(v)


def run_rows(plan, records: list[dict]) -> list[dict]:
    index = {key: i for i, key in enumerate(_keys(plan))}
    rows = []
    for r in records:
        row = {"row": "run", "point": index[r["point"]], **r["params"], "seed": r["seed"],
               "seeds": 1}
        row[ALL_SLOS] = float(all(r["slos"].get(s, False) for s in plan.slos))
        row.update({f"slo:{s}": float(bool(r["slos"].get(s, False))) for s in plan.slos})
        for name, value in r["metrics"].items():
            row[name] = _f(value)
        row["wall_seconds"] = r.get("wall_seconds", math.nan)
        rows.append(row)
    return rows


def _keys(plan) -> list[str]:
    from sim.decide.space import point_key

    return [point_key(p) for p in plan.points]


def point_rows(plan, records: list[dict]) -> list[dict]:
    by_point: dict[str, list[dict]] = {}
    for r in records:
        by_point.setdefault(r["point"], []).append(r)
    per_point = [aggregate(by_point.get(key, []), plan.slos, seed=plan.seeds[0] * 1000 + i)
                 for i, key in enumerate(_keys(plan))]
    ever_never = {name for stats in per_point for name, iv in stats.metrics.items() if iv.never}
    rows = []
    for i, (params, stats) in enumerate(zip(plan.points, per_point)):
        row = {"row": "point", "point": i, **params, "seed": None, "seeds": stats.n,
               ALL_SLOS: stats.all_pass}
        row.update({f"slo:{s}": p for s, p in stats.slo_pass.items()})
        for name, iv in stats.metrics.items():
            row[name] = iv.estimate
            row[f"{name}.ci_low"] = iv.low
            row[f"{name}.ci_high"] = iv.high
            if name in ever_never:
                row[f"{name}.never"] = iv.never
        rows.append(row)
    return rows


def write_table(folder, rows: list[dict], stem: str = "sweep") -> None:
    """``stem.csv`` and ``stem.parquet`` in ``folder`` (written whole, then renamed)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    data = {c: _column([row.get(c) for row in rows]) for c in columns}
    table = pa.table(data)
    for suffix, write in ((".parquet", pq.write_table), (".csv", pacsv.write_csv)):
        final = folder / f"{stem}{suffix}"
        tmp = folder / f".{stem}{suffix}.tmp"
        write(table, str(tmp))
        tmp.replace(final)


def _column(values: list):
    """Numbers as float64 (None and NaN as null), anything else as text."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None or v != v else float(v) for v in values],
                        type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
