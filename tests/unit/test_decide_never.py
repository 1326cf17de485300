"""Metrics that are +inf ("never": a fleet percentile some instances never reached) across
seeds and in comparisons: said as "never" honestly, no finite interval made up, and no numpy
warning (every test here turns warnings into errors)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from sim.decide.compare import compare_folders, regressions
from sim.decide.fmt import fmt_estimate
from sim.decide.outcome import Outcome, check_metric, check_slos
from sim.decide.stats import delta_interval, mean_interval, metric_interval, verdict
from sim.decide.table import aggregate, point_rows
from sim.report import write_report
from sim.results import AttemptTable, Run, RunMeta

pytestmark = pytest.mark.filterwarnings("error")
INF = math.inf


def rng():
    return np.random.default_rng(1)


@pytest.mark.parametrize("metric", ["time_to_ready.p95", "bootstrap_retries.mean"])
def test_a_mean_over_seeds_some_never_is_never_with_no_interval(metric):
    iv = metric_interval(metric, [10.0, 12.0, INF, math.nan], rng())  # NaN: not measured
    assert (iv.estimate, iv.method, iv.n) == (INF, "never", 3)
    assert math.isnan(iv.low) and math.isnan(iv.high)
    assert iv.never == pytest.approx(1 / 3)
    assert fmt_estimate(iv) == "never in 1 of 3 seeds"


def test_every_seed_never_is_a_certain_never():
    iv = mean_interval([INF, INF, INF])
    assert (iv.estimate, iv.low, iv.high, iv.never) == (INF, INF, INF, 1.0)
    assert fmt_estimate(iv) == "never (all 3 seeds)"


def test_finite_values_keep_their_interval():
    iv = mean_interval([10.0, 12.0, 14.0])
    assert iv.method == "t" and iv.never == 0 and iv.low < 12 < iv.high


def test_a_paired_delta_with_never_compares_the_share_of_seeds_that_never_did():
    a = [10.0, 11.0, 12.0, 10.0, 11.0, 12.0]
    b = [INF, INF, 12.0, INF, INF, INF]
    iv = delta_interval(a, b, rng(), paired=True)
    assert iv.delta_of == "never share"
    assert iv.estimate == pytest.approx(5 / 6) and iv.low > 0
    assert verdict("time_to_ready.p95", iv) == "worse"
    same = delta_interval(b, b, rng(), paired=True)
    assert (same.estimate, verdict("time_to_ready.p95", same)) == (0.0, "no significant difference")


def test_a_percentile_over_instances_keeps_never_as_a_value_above_all():
    a = np.arange(1.0, 201.0)
    b = np.where(np.arange(200) % 10 == 0, INF, a + 5)  # 10% of B never ready
    p95 = delta_interval(a, b, rng(), paired=False, order_statistic=True,
                         statistic=lambda x, axis=-1: np.percentile(x, 95, axis=axis))
    assert p95.estimate == INF and p95.high == INF  # B's p95 is never
    p50 = delta_interval(a, b, rng(), paired=False, order_statistic=True,
                         statistic=lambda x, axis=-1: np.percentile(x, 50, axis=axis))
    assert math.isfinite(p50.estimate) and 0 < p50.estimate < 30 and math.isfinite(p50.low)


def _records(values_per_seed):
    return [{"metrics": {"time_to_ready.p95": v}, "slos": {"time_to_ready.p95 <= 1m": v <= 60}}
            for v in values_per_seed]


class _Plan:
    params = ["fleet.size"]
    points = [{"fleet.size": 10}, {"fleet.size": 20}]
    seeds = [7, 8, 9]
    slos = ["time_to_ready.p95 <= 1m"]


def test_the_sweep_table_has_the_share_of_seeds_that_never_reached_it():
    from sim.decide.cli import _mean_cell
    from sim.decide.space import point_key

    plan = _Plan()
    recs = []
    for point, values in zip(plan.points, ([30.0, 31.0, 32.0], [40.0, INF, INF])):
        for seed, r in zip(plan.seeds, _records(values)):
            recs.append({**r, "point": point_key(point), "params": point, "seed": seed})
    first, second = point_rows(plan, recs)
    assert first["time_to_ready.p95.never"] == 0.0 and math.isfinite(first["time_to_ready.p95"])
    assert second["time_to_ready.p95"] == INF and second["time_to_ready.p95.never"] == pytest.approx(2 / 3)
    assert math.isnan(second["time_to_ready.p95.ci_low"])
    assert _mean_cell(second, "time_to_ready.p95", 3) == "never in 2 of 3 seeds"
    assert _mean_cell(first, "time_to_ready.p95", 3).startswith("31 [")


def test_the_plugin_failure_message_says_never():
    stats = aggregate(_records([40.0, INF, 50.0]), ["time_to_ready.p95 <= 1m"])
    outcome = Outcome("storm", "sim", [7, 8, 9], [], [None] * 3, stats)
    message = check_metric(outcome, "time_to_ready.p95", "<=", "1m")
    assert ("time_to_ready.p95 = never in 1 of 3 seeds (no finite interval over seeds); "
            "expected <= 1m") in message
    assert not re.search(r"\binf\b", message)
    slo_message = check_slos(outcome)
    assert "never in 1 of 3 seeds" in slo_message and not re.search(r"\binf\b", slo_message)


def _folder(tmp_path, name, never_every):
    table = AttemptTable(["boot"])
    for i in range(200):
        never = never_every and i % never_every == 0
        table.append(instance=i, attempt=1, launch=float(i % 20), start=float(i % 20) + 1,
                     end=float(i % 20) + 30, ready_time=math.nan if never else float(i % 20) + 10 + i % 7,
                     outcome="hung" if never else "ready")
    meta = RunMeta("sim", 1, name, "h", None, 120.0, "2026-12-04T00:00:00Z", sim_end=120.0)
    run = Run(meta, table, {}, [], {"slos": ["time_to_ready.p95 <= 1m"]})
    folder = tmp_path / name
    run.write(folder)
    write_report(run, folder, plots=False)
    return folder


def test_compare_of_two_folders_says_never_in_every_output(tmp_path):
    a = _folder(tmp_path, "a", 0)
    b = _folder(tmp_path, "b", 10)  # 10% of B's instances never became ready
    comparison = compare_folders(a, b)
    p95 = comparison.get("time_to_ready.p95")
    assert math.isfinite(p95.baseline) and p95.candidate == INF
    assert p95.delta.estimate == INF and p95.verdict == "worse"
    md = comparison.to_markdown()
    row = next(line for line in md.splitlines() if line.startswith("| time_to_ready.p95 |"))
    assert "| never | B never |" in row and "+never]" in row and "inf" not in row
    data = json.loads(comparison.to_json())
    assert data["metrics"]["time_to_ready.p95"]["candidate"] == "inf"
    assert data["metrics"]["time_to_ready.p95"]["delta"] == "inf"
    p50 = comparison.get("time_to_ready.p50")
    assert math.isfinite(p50.delta.estimate)  # the median is reached: a finite comparison
    (failure,) = regressions(comparison, [("time_to_ready.p95", "10s")])
    assert "worse by B never" in failure


def test_the_sweep_journal_keeps_never_across_a_resume(tmp_path):
    from sim.decide.journal import Journal

    journal = Journal(tmp_path / "runs.jsonl")
    journal.append({"point": "p0", "seed": 7, "slos": {},
                    "metrics": {"time_to_ready.p95": INF, "goodput": math.nan, "x": 1.5}})
    with open(journal.path, "a") as fh:  # hand-damaged lines: those runs are simply run again
        fh.write('{"point": "p1", "metrics": {}}\n{"point": "p2", "seed": 1, "metrics": {"x": "soon"}}\n')
    assert '"time_to_ready.p95": "inf"' in journal.path.read_text()
    (record,) = journal.load().values()
    metrics = record["metrics"]
    assert metrics["time_to_ready.p95"] == INF and math.isnan(metrics["goodput"])
    assert metrics["x"] == 1.5


def test_plan_json_and_csv_say_never_for_the_binding_metric():
    from sim.decide.plan import Evaluation, PlanResult

    stats = aggregate(_records([40.0, INF, INF]), ["time_to_ready.p95 <= 1m"])
    result = PlanResult("storm", "fleet.size", "max", 0.95, [7, 8, 9], None, None, 5000,
                        "time_to_ready.p95 <= 1m", [Evaluation(5000, stats, False)])
    assert result.to_dict()["binding_metric_at_failing"][0] == "inf"  # not null: not measured
    (row,) = result.rows()
    assert row["time_to_ready.p95"] == INF and row["time_to_ready.p95.never"] == pytest.approx(2 / 3)
