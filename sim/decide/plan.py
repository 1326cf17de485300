"""``bootstorm plan``: the largest (or smallest) value of one scenario field that still meets
every SLO with probability >= P over N seeds.

    find_limit("scenarios/autoscale-storm.yaml", "fleet.size", "max", (1000, 1_000_000),
               seeds=10, probability=0.95, executor=ex)

The search assumes the answer is monotone in the field (more instances never help; a larger
quota never hurts) and bisects: both ends first, then the middle of the pass/fail bracket
until it is narrower than the tolerance. Every value runs the same seeds (common random
numbers), so the comparison between two values is not the luck of the draw. The answer is
the last passing value, with the bracket around it and the SLO that binds: the one met least
often at the failing end of the bracket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from sim.decide.space import point_overrides
from sim.decide.table import PointStats, aggregate
from sim.metrics.summary_file import json_nulls
from sim.decide.task import Task, applicable_slos, run_tasks
from sim.errors import InvalidArgument

__all__ = ["Evaluation", "PlanResult", "find_limit", "parse_within", "write_plan"]

MAX_EVALUATIONS = 60


@dataclass
class Evaluation:
    value: float
    stats: PointStats
    passed: bool


@dataclass
class PlanResult:
    scenario_name: str
    param: str
    goal: str  # "max" or "min"
    probability: float
    seeds: list[int]
    answer: float | None  # None: no value in the range meets the SLOs
    passing: float | None  # the bracket: last value that met every SLO ...
    failing: float | None  # ... and the nearest one that did not (None: none failed)
    binding_slo: str | None
    evaluations: list[Evaluation] = field(default_factory=list)
    folder: Path | None = None

    def to_dict(self) -> dict:
        def interval(e: Evaluation | None):
            if e is None or self.binding_slo is None:
                return None
            from sim.metrics import parse_slos

            iv = e.stats.metrics.get(parse_slos([self.binding_slo])[0].metric)
            # +inf (never, in some seeds) as "inf", as summary.json writes it: JSON's null
            # would read "not measured".
            return None if iv is None else [json_nulls(v) for v in (iv.estimate, iv.low, iv.high)]

        return {
            "scenario": self.scenario_name, "param": self.param, "goal": self.goal,
            "probability": self.probability, "seeds": self.seeds, "answer": self.answer,
            "bracket": {"passing": self.passing, "failing": self.failing},
            "binding_slo": self.binding_slo,
            "binding_metric_at_failing": interval(self._at(self.failing)),
            "evaluations": [{"value": e.value, "p_all_slos": e.stats.all_pass,
                             "passed": e.passed, "slo_pass": e.stats.slo_pass}
                            for e in sorted(self.evaluations, key=lambda e: e.value)],
        }

    def rows(self) -> list[dict]:
        """One row per value tried: P(all SLOs), each SLO's share, every metric's mean and CI."""
        rows = []
        for e in sorted(self.evaluations, key=lambda e: e.value):
            row = {self.param: e.value, "passed": float(e.passed), "slo:all": e.stats.all_pass,
                   "seeds": e.stats.n}
            row.update({f"slo:{k}": v for k, v in e.stats.slo_pass.items()})
            for name, iv in e.stats.metrics.items():
                row.update({name: iv.estimate, f"{name}.ci_low": iv.low,
                            f"{name}.ci_high": iv.high})
                if iv.never:  # some seeds never reached it: the mean is never, no interval
                    row[f"{name}.never"] = iv.never
            rows.append(row)
        return rows

    def _at(self, value) -> Evaluation | None:
        return next((e for e in self.evaluations if e.value == value), None)


def parse_within(text: str) -> tuple[float, float, bool]:
    """``1000..1000000`` -> (low, high, integer)."""
    from sim.decide.space import parse_vary

    vary = parse_vary(f"x={text}", option="--within")
    if not vary.is_range:
        raise InvalidArgument(f"--within expects LOW..HIGH (e.g. 1000..1000000), got {text!r}")
    return vary.low, vary.high, vary.integer


def find_limit(scenario_file: str | Path, param: str, goal: str, within: tuple[float, float],
               *, executor, integer: bool | None = None, probability: float = 0.95,
               seeds: int = 10, overrides=(), tolerance: float | None = None,
               progress=None) -> PlanResult:
    """Bisect ``param`` in ``within`` for the ``goal`` ("max"/"min") value meeting every SLO
    in at least ``probability`` of ``seeds`` seeded runs. ``progress(text)`` after each value."""
    from sim.scenario import load_scenario, parse_scenario

    if goal not in ("max", "min"):
        raise InvalidArgument(f"--find expects max or min before the field, got {goal!r}")
    if not 0 < probability <= 1:
        raise InvalidArgument(f"--probability: expected a number in (0, 1], got {probability}")
    if seeds < 1:
        raise InvalidArgument(f"--seeds: expected an integer >= 1, got {seeds}")
    low, high = float(within[0]), float(within[1])
    if not low < high:
        raise InvalidArgument(f"--within: expected LOW < HIGH, got {low:g}..{high:g}")
    integer = (low.is_integer() and high.is_integer()) if integer is None else integer
    if tolerance is None:
        tolerance = (high - low) / 100
    if tolerance <= 0:
        raise InvalidArgument(f"--tolerance: expected a number > 0, got {tolerance:g}")
    if integer:
        tolerance = max(1.0, math.floor(tolerance))
    base = load_scenario(scenario_file, list(overrides))
    if not applicable_slos(base, "sim"):  # plans run on the sim engine
        raise InvalidArgument(f"{scenario_file}: slos: the scenario has no SLOs that apply on "
                              "sim, so no value can be judged; add at least one (e.g. "
                              "time_to_ready.p95 <= 2m)")
    text = Path(scenario_file).read_text(encoding="utf-8")

    def value_of(x: float):
        return int(round(x)) if integer else float(x)

    for end in (low, high):  # a bad field or value fails here, before anything runs
        parse_scenario(text, str(scenario_file),
                       list(overrides) + point_overrides({param: value_of(end)}))
    slos = applicable_slos(base, "sim")  # plans run on the sim engine
    seed_list = [base.run.seed + i for i in range(seeds)]
    evaluations: list[Evaluation] = []

    def evaluate(x: float) -> Evaluation:
        v = value_of(x)
        tasks = [Task(text, str(scenario_file),
                      tuple(overrides) + tuple(point_overrides({param: v})), s, "sim")
                 for s in seed_list]
        records = run_tasks(executor, tasks)
        stats = aggregate(records, slos, seed=seed_list[0])
        e = Evaluation(v, stats, stats.all_pass >= probability - 1e-12)
        evaluations.append(e)
        if progress:
            progress(f"{param}={v:g}: P(all SLOs) = {stats.all_pass:.2f} -> "
                     f"{'pass' if e.passed else 'fail'}")
        return e

    good, bad = (low, high) if goal == "max" else (high, low)
    result = PlanResult(base.name, param, goal, probability, seed_list, None, None, None, None,
                        evaluations)
    first = evaluate(good)
    if not first.passed:
        result.failing = first.value
        result.binding_slo = first.stats.binding_slo()
        return result
    last = evaluate(bad)
    if last.passed:
        result.answer = result.passing = last.value
        return result
    good_e, bad_e = first, last
    while abs(bad_e.value - good_e.value) > tolerance and len(evaluations) < MAX_EVALUATIONS:
        mid = value_of((good_e.value + bad_e.value) / 2)
        if mid in (good_e.value, bad_e.value):
            break
        e = evaluate(mid)
        if e.passed:
            good_e = e
        else:
            bad_e = e
    result.answer = result.passing = good_e.value
    result.failing = bad_e.value
    result.binding_slo = bad_e.stats.binding_slo()
    return result


def write_plan(result: PlanResult, out_dir: str | Path = "results", *, plots: bool = True) -> Path:
    """``out_dir/<scenario>-plan-<time>/``: plan.json, plan.csv/.parquet, the frontier plot."""
    import json
    from datetime import datetime, timezone

    from sim.decide.journal import json_safe
    from sim.decide.table import write_table

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = Path(out_dir) / f"{result.scenario_name}-plan-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.json").write_text(json.dumps(json_safe(result.to_dict()), indent=2,
                                                 allow_nan=False))
    write_table(folder, result.rows(), stem="plan")
    if plots:
        from sim.decide.plots import frontier_plot

        frontier_plot(result, folder)
    result.folder = folder
    return folder
