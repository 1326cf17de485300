"""``bootstorm plan`` through the real CLI: bisection on common seeds, bracket, binding SLO."""

import json

import pytest

from _decide_helpers import FAST, STORM, bootstorm
from sim.decide.space import point_overrides
from sim.decide.task import Task, run_task

QUOTA = "dependencies.ssm.operations.GetParameter.quota.rate"


def _all_pass(overrides, seeds):
    text = STORM.read_text()
    return [all(run_task(Task(text, str(STORM), tuple(overrides), s))["slos"].values())
            for s in seeds]


def test_max_fleet_size_comes_with_its_bracket_and_binding_slo(tmp_path):
    done = bootstorm("plan", STORM, *FAST, "--find", "max", "fleet.size", "--within", "100..1000",
                     "--seeds", "2", "--tolerance", "50", "--workers", "2", "--out", tmp_path,
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (folder,) = tmp_path.glob("autoscale-storm-plan-*")
    plan = json.loads((folder / "plan.json").read_text())
    passing, failing = plan["bracket"]["passing"], plan["bracket"]["failing"]
    assert plan["answer"] == passing and isinstance(passing, int)
    assert 100 <= passing < failing <= 1000 and failing - passing <= 50
    assert f"max fleet.size = {passing}" in done.stdout
    # SSM's 40/s quota is what a larger fleet runs into
    assert plan["binding_slo"] == "dependencies.ssm.throttled_share <= 5%"
    low, mean, high = (plan["binding_metric_at_failing"][i] for i in (1, 0, 2))
    assert low <= mean <= high
    # Checked independently: both seeds meet every SLO at the answer; not at the failing end
    assert _all_pass(FAST[1:] + point_overrides({"fleet.size": passing}), plan["seeds"]) == [True, True]
    assert not all(_all_pass(FAST[1:] + point_overrides({"fleet.size": failing}), plan["seeds"]))
    # Bisection, not a scan: far fewer values than the range holds
    assert len(plan["evaluations"]) <= 2 + 5
    assert (folder / "frontier-fleet.size.png").stat().st_size > 1000
    assert (folder / "plan.csv").exists()


def test_min_quota_is_found_from_above(tmp_path):
    done = bootstorm("plan", STORM, *FAST, "--set", "fleet.size=600", "--find", "min", QUOTA,
                     "--within", "1..400", "--seeds", "2", "--tolerance", "10", "--workers", "2",
                     "--out", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(next(tmp_path.glob("*/plan.json")).read_text())
    passing, failing = plan["bracket"]["passing"], plan["bracket"]["failing"]
    assert 1 <= failing < passing <= 400 and passing - failing <= 10
    assert f"min {QUOTA} = {passing}" in done.stdout


def test_no_value_in_range_exits_1_and_names_the_binding_slo(tmp_path):
    done = bootstorm("plan", STORM, *FAST, "--find", "max", "fleet.size", "--within",
                     "3000..4000", "--seeds", "1", "--workers", "1", "--out", tmp_path,
                     "--no-plots", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "no value of fleet.size in 3000..4000 meets every SLO" in done.stdout
    assert "binding SLO is: " in done.stdout
    plan = json.loads(next(tmp_path.glob("*/plan.json")).read_text())  # strict JSON: no NaN
    assert plan["answer"] is None and plan["bracket"] == {"passing": None, "failing": 3000}
    assert plan["binding_metric_at_failing"][1] is None  # one seed: no interval


@pytest.mark.parametrize("args, expected", [
    (["--find", "biggest", "fleet.size", "--within", "1..5"], "--find expects 'max PATH' or 'min PATH'"),
    (["--find", "max", "fleet.size", "--within", "5..1"], "expected LOW < HIGH"),
    (["--find", "max", "fleet.sise", "--within", "1..5"], "fleet.sise: unknown field"),
    (["--find", "max", "fleet.size", "--within", "1..5", "--probability", "1.5"], "--probability"),
])
def test_bad_plan_arguments_exit_2(tmp_path, args, expected):
    done = bootstorm("plan", STORM, *args, "--out", tmp_path, cwd=tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("goal, within, where", [
    ("min", "300..400", "down to the start"),  # 300/s is plenty for 600 instances
    ("max", "100..200", "up to the end"),
])
def test_a_range_that_passes_everywhere_says_which_end_to_widen(tmp_path, goal, within, where):
    path = "fleet.size" if goal == "max" else QUOTA
    done = bootstorm("plan", STORM, *FAST, "--set", "fleet.size=600", "--find", goal, path,
                     "--within", within, "--seeds", "1", "--workers", "1", "--no-plots",
                     "--out", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"every value {where} of the range met every SLO" in done.stdout
    plan = json.loads(next(tmp_path.glob("*/plan.json")).read_text())
    assert plan["bracket"]["failing"] is None
