"""``bootstorm compare``: is B better than A, worse, or not distinguishable from it?

Two ways in:

- ``compare_folders(A, B)``: two run folders (``summary.json``, ``attempts.csv``). With one
  run a side, the interval of a fleet metric comes from a bootstrap over that run's instances
  or attempts (success rate, time to ready, retries, error rate); metrics of a whole run
  (dependency load, drain time) have no interval from one run each and are reported "not
  tested".
- ``compare_scenarios(file, baseline, candidate, seeds)``: both sides run the same N seeds
  (common random numbers); every metric's delta gets a paired bootstrap interval over seeds.

Both add Mann-Whitney U and Kolmogorov-Smirnov tests on the time-to-ready samples, and a verdict
per metric that knows its direction (higher success is better, lower latency is better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.decide.compare_checks import parse_regression, parse_set_options, regressions
from sim.decide.fmt import fmt_delta, fmt_interval, fmt_never, fmt_number
from sim.decide.stats import Interval, delta_interval, distribution_tests, verdict
from sim.decide.task import applicable_slos, judged_slos
from sim.errors import InvalidArgument

__all__ = ["MetricDelta", "Comparison", "compare_folders", "compare_scenarios",
           "parse_regression", "parse_set_options", "regressions", "write_comparison"]

NOT_TESTED = "not tested"


@dataclass
class MetricDelta:
    metric: str
    baseline: float
    candidate: float
    delta: Interval
    verdict: str
    # Share of seeds in which each side never reached the metric (+inf; compare of scenarios).
    baseline_never: float = 0.0
    candidate_never: float = 0.0


@dataclass
class Comparison:
    baseline: str
    candidate: str
    method: str  # how the intervals were made
    deltas: list[MetricDelta]
    tests: dict[str, float]
    slo_pass: dict[str, dict[str, float]] = field(default_factory=dict)  # side -> SLO -> P

    def get(self, metric: str) -> MetricDelta | None:
        return next((d for d in self.deltas if d.metric == metric), None)

    def to_dict(self) -> dict:
        def num(v):  # +inf ("never") as the string "inf", as summary.json writes it
            return None if v is None or v != v else "inf" if v == math.inf else float(v)

        return {
            "baseline": self.baseline, "candidate": self.candidate, "method": self.method,
            "metrics": {d.metric: {"baseline": num(d.baseline), "candidate": num(d.candidate),
                                   "delta": num(d.delta.estimate), "ci_low": num(d.delta.low),
                                   "ci_high": num(d.delta.high), "n": d.delta.n,
                                   "delta_of": d.delta.delta_of,
                                   "baseline_never": d.baseline_never,
                                   "candidate_never": d.candidate_never,
                                   "verdict": d.verdict} for d in self.deltas},
            "time_to_ready_tests": {k: num(v) for k, v in self.tests.items()},
            "slo_pass": self.slo_pass,
        }

    def to_json(self) -> str:
        """Strict JSON (NaN as null)."""
        import json

        from sim.decide.journal import json_safe

        return json.dumps(json_safe(self.to_dict()), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        lines = ["# bootstorm compare", "", f"- baseline (A): `{self.baseline}`",
                 f"- candidate (B): `{self.candidate}`", f"- intervals: {self.method}", "",
                 "| metric | A | B | B - A | 95% CI | verdict |", "|---|---:|---:|---:|---:|---|"]
        for d in self.deltas:
            lines.append(f"| {d.metric} | {_side(d.baseline, d.baseline_never, d.delta.n)} | "
                         f"{_side(d.candidate, d.candidate_never, d.delta.n)} | "
                         f"{fmt_delta(d.delta)} | {fmt_interval(d.delta)} | {d.verdict} |")
        t = self.tests
        lines += ["", "## time to ready: are the two distributions the same?", "",
                  f"- Mann-Whitney U = {fmt_number(t.get('mannwhitney_u'))}, "
                  f"p = {fmt_number(t.get('mannwhitney_p'))}",
                  f"- Kolmogorov-Smirnov D = {fmt_number(t.get('ks_statistic'))}, "
                  f"p = {fmt_number(t.get('ks_p'))}",
                  f"- samples: A {t.get('n_a', 0):,}, B {t.get('n_b', 0):,} instances that "
                  "became ready"]
        if self.slo_pass:
            lines += ["", "## SLOs: share of seeds that met each", "", "| SLO | A | B |",
                      "|---|---:|---:|"]
            a, b = self.slo_pass.get("baseline", {}), self.slo_pass.get("candidate", {})
            for slo in dict.fromkeys(list(a) + list(b)):
                lines.append(f"| {slo} | {fmt_number(a.get(slo))} | {fmt_number(b.get(slo))} |")
        return "\n".join(lines) + "\n"


def _side(value: float, never: float, n: int) -> str:
    """One side's mean: ``never in 3 of 10 seeds`` when some seeds never reached it."""
    return fmt_never(never, n) if value == math.inf and never > 0 else fmt_number(value)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# Fleet metrics with an interval from one run: metric -> (sample, statistic).
def _quantile(q: float):
    return lambda x, axis=-1: np.percentile(x, q, axis=axis)


# time_to_ready.* is over every instance launched (+inf: never ready), _of_ready.* over the
# instances that became ready: each is compared on the sample it is defined on.
_TTR_STATS = {f"{name}.p{q:g}": _quantile(q) for q in (50, 90, 95, 99, 99.9)
              for name in ("time_to_ready", "time_to_ready_of_ready")}
_TTR_STATS.update({f"{name}.mean": np.mean for name in ("time_to_ready", "time_to_ready_of_ready")})


def _samples(folder: Path, time_scale: float = 1.0) -> dict[str, np.ndarray]:
    """Per-instance and per-attempt samples of a run folder; times on the scenario's clock
    (an exec run's wall seconds / its time_scale), as the metrics in its summary.json."""
    from sim.metrics import time_to_ready
    from sim.metrics.attempts import instance_count, time_to_ready_fleet
    from sim.results.attempts import AttemptTable

    table = AttemptTable.read_csv(folder / "attempts.csv")
    if time_scale != 1.0:
        table = table.rescaled(time_scale)
    ttr = time_to_ready(table)
    n = instance_count(table)
    outcome = np.asarray(table.outcome, dtype=object)
    return {
        "time_to_ready": time_to_ready_fleet(table),
        "time_to_ready_of_ready": ttr,
        "ready": np.r_[np.ones(ttr.size), np.zeros(max(0, n - ttr.size))],
        "retries": table.column("retries").astype(np.float64),
        "errors": ((outcome == "failed") | (outcome == "hung")).astype(np.float64) * 1000.0,
    }


def _read_folder(folder: str | Path):
    from sim.metrics import Summary

    folder = Path(folder)
    for name in ("summary.json", "attempts.csv"):
        if not (folder / name).is_file():
            raise InvalidArgument(f"{folder}: not a run folder (no {name}); expected a folder "
                                  "written by `bootstorm run`")
    return folder, Summary.read(folder / "summary.json")


def compare_folders(folder_a: str | Path, folder_b: str | Path, *, seed: int = 0) -> Comparison:
    """Compare two single runs; intervals by bootstrap over instances/attempts."""
    folder_a, summary_a = _read_folder(folder_a)
    folder_b, summary_b = _read_folder(folder_b)
    sa, sb = (_samples(f, s.meta.get("time_scale") or 1.0)
              for f, s in ((folder_a, summary_a), (folder_b, summary_b)))
    rng = _rng(seed)
    deltas = []
    for metric in dict.fromkeys(list(summary_a.metrics) + list(summary_b.metrics)):
        a = summary_a.metrics.get(metric, math.nan)
        b = summary_b.metrics.get(metric, math.nan)
        if metric in _TTR_STATS:
            sample = metric.partition(".")[0]
            iv = delta_interval(sa[sample], sb[sample], rng, paired=False,
                                statistic=_TTR_STATS[metric], resamples=1000,
                                order_statistic=True)
        elif metric == "bootstrap_success_rate":
            iv = delta_interval(sa["ready"], sb["ready"], rng, paired=False)
        elif metric == "bootstrap_retries.mean":
            iv = delta_interval(sa["retries"], sb["retries"], rng, paired=False)
        elif metric == "bootstrap_error_rate":
            iv = delta_interval(sa["errors"], sb["errors"], rng, paired=False)
        else:
            iv = Interval(0.0 if a == b else b - a, math.nan, math.nan, 1, "none")  # never == never
        v = verdict(metric, iv) if iv.method != "none" or iv.estimate != iv.estimate else NOT_TESTED
        deltas.append(MetricDelta(metric, a, b, iv, v))
    tests = distribution_tests(sa["time_to_ready_of_ready"], sb["time_to_ready_of_ready"])
    slo_pass = {side: {slo: float(ok) for slo, ok in judged_slos(s.verdicts).items()}
                for side, s in (("baseline", summary_a), ("candidate", summary_b))}
    return Comparison(str(folder_a), str(folder_b),
                      "bootstrap over the instances (or attempts) of each run; metrics of a "
                      "whole run have no interval from one run each (not tested)",
                      deltas, tests, slo_pass)


def compare_scenarios(scenario_file: str | Path, baseline: list[str], candidate: list[str], *,
                      seeds: int, executor, overrides=(), progress=None) -> Comparison:
    """Run both variants on the same ``seeds`` seeds and compare them pairwise."""
    from sim.decide.table import aggregate
    from sim.decide.task import Task, run_tasks
    from sim.scenario import load_scenario

    if seeds < 1:
        raise InvalidArgument(f"--seeds: expected an integer >= 1, got {seeds}")
    a_scn = load_scenario(scenario_file, list(overrides) + list(baseline))
    load_scenario(scenario_file, list(overrides) + list(candidate))  # both valid before running
    text = Path(scenario_file).read_text(encoding="utf-8")
    seed_list = [a_scn.run.seed + i for i in range(seeds)]
    sides = {"baseline": baseline, "candidate": candidate}
    tasks = [Task(text, str(scenario_file), tuple(overrides) + tuple(sets), s, "sim",
                  want_ttr=True, tags={"side": side})
             for side, sets in sides.items() for s in seed_list]
    done = 0

    def tick(_):
        nonlocal done
        done += 1
        if progress:
            progress(done, len(tasks))

    results = run_tasks(executor, tasks, tick)
    by_side = {side: [r for r in results if r["tags"]["side"] == side] for side in sides}
    rng = _rng(seed_list[0])
    deltas = []
    ra, rb = by_side["baseline"], by_side["candidate"]
    names = list(dict.fromkeys([k for r in ra + rb for k in r["metrics"]]))
    for metric in names:
        a = np.array([r["metrics"].get(metric, math.nan) for r in ra], dtype=float)
        b = np.array([r["metrics"].get(metric, math.nan) for r in rb], dtype=float)
        iv = delta_interval(a, b, rng, paired=True)
        deltas.append(MetricDelta(metric, _nanmean(a), _nanmean(b), iv, verdict(metric, iv),
                                  _never_share(a), _never_share(b)))
    pooled = {side: np.concatenate([np.asarray(r.get("time_to_ready", []), float)
                                    for r in rs]) for side, rs in by_side.items()}
    tests = distribution_tests(pooled["baseline"], pooled["candidate"])
    slos = applicable_slos(a_scn, "sim")  # variants run on the sim engine
    slo_pass = {side: aggregate(rs, slos).slo_pass for side, rs in by_side.items()}
    label = f"{scenario_file} {' '.join('--set ' + s for s in baseline)}".strip()
    label_b = f"{scenario_file} {' '.join('--set ' + s for s in candidate)}".strip()
    return Comparison(label, label_b,
                      f"paired bootstrap over {seeds} common seeds ({seed_list[0]}.."
                      f"{seed_list[-1]}) of the mean difference", deltas, tests, slo_pass)


def _nanmean(v: np.ndarray) -> float:
    """The mean of the measured values; +inf when some were never reached (no inf - inf)."""
    v = v[~np.isnan(v)]
    if np.isposinf(v).any():
        return math.inf
    return float(v.mean()) if v.size else math.nan


def _never_share(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(np.isposinf(v).mean()) if v.size else 0.0


def write_comparison(comparison: Comparison, folder: str | Path) -> Path:
    """``compare.md`` and ``compare.json`` in ``folder``."""
    folder = Path(folder)
    texts = {"compare.md": comparison.to_markdown(), "compare.json": comparison.to_json()}
    folder.mkdir(parents=True, exist_ok=True)  # both rendered first: never one without the other
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder
