"""``bootstorm compare`` through the real CLI: two run folders, or two variants on common seeds."""

import json

from _decide_helpers import FAST, STORM, bootstorm

QUOTA = "dependencies.ssm.operations.GetParameter.quota"
THROTTLED = ["--set", "fleet.size=1000"]  # 100 launches/s against SSM's 40/s
LIFTED = ["--set", f"{QUOTA}.rate=1000", "--set", f"{QUOTA}.burst=1000"]


def _run(tmp_path, name, *sets):
    done = bootstorm("run", STORM, *FAST, *THROTTLED, *sets, "--no-plots", "--quiet",
                     "--out", tmp_path / name, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    return next((tmp_path / name).iterdir())


def test_two_run_folders_compare_with_bootstrap_intervals_and_tests(tmp_path):
    throttled, lifted = _run(tmp_path, "a"), _run(tmp_path, "b", *LIFTED)
    done = bootstorm("compare", throttled, lifted, "--json", "--write", tmp_path / "cmp",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    p95 = data["metrics"]["time_to_ready.p95"]
    assert p95["candidate"] < p95["baseline"]
    assert p95["ci_high"] < 0 and p95["verdict"] == "better"
    assert data["metrics"]["dependencies.ssm.throttled_share"]["verdict"] == "not tested"
    tests = data["time_to_ready_tests"]
    assert tests["mannwhitney_p"] < 0.001 and tests["ks_p"] < 0.001
    markdown = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| time_to_ready.p95 |" in markdown and "Mann-Whitney U" in markdown

    # The other way round it is a regression, and CI fails on it
    reverse = bootstorm("compare", lifted, throttled, "--fail-on-regression",
                        "time_to_ready.p95:5s", cwd=tmp_path)
    assert reverse.returncode == 1
    assert "regression: time_to_ready.p95: worse by" in reverse.stderr
    assert "| time_to_ready.p95 |" in reverse.stdout and "| worse |" in reverse.stdout
    tolerant = bootstorm("compare", lifted, throttled, "--fail-on-regression",
                         "time_to_ready.p95:100000%", cwd=tmp_path)
    assert tolerant.returncode == 0, tolerant.stderr


def test_scenario_variants_on_common_seeds(tmp_path):
    done = bootstorm("compare", STORM, *FAST, *THROTTLED, "--baseline", "",
                     "--candidate", " ".join(f"--set {s}" for s in LIFTED[1::2]),
                     "--seeds", "3", "--workers", "2", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["metrics"]["time_to_ready.p95"]["verdict"] == "better"
    assert data["metrics"]["dependencies.ssm.throttled_share"]["verdict"] == "better"
    assert data["metrics"]["time_to_ready.p95"]["n"] == 3
    assert data["slo_pass"]["candidate"]["dependencies.ssm.throttled_share <= 5%"] == 1.0
    assert data["slo_pass"]["baseline"]["dependencies.ssm.throttled_share <= 5%"] == 0.0


def test_bad_compare_input_exits_2(tmp_path):
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    done = bootstorm("compare", not_a_run, not_a_run, cwd=tmp_path)
    assert done.returncode == 2 and "not a run folder" in done.stderr
    done = bootstorm("compare", STORM, "--baseline", "", cwd=tmp_path)
    assert done.returncode == 2 and "--candidate" in done.stderr
    done = bootstorm("compare", not_a_run, not_a_run, "--fail-on-regression", "time_to_ready", cwd=tmp_path)
    assert done.returncode == 2 and "METRIC:THRESHOLD" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_compressed_run_folder_is_compared_on_the_scenario_clock(tmp_path):
    """An exec/load run at time_scale 0.5 records wall seconds (scenario seconds x 0.5); its
    summary's metrics are on the scenario's clock, and so must be the per-instance samples
    compare bootstraps. The same run written on a compressed clock compares as no difference
    (compared in wall seconds it would look twice as fast)."""
    import shutil

    from sim.results.attempts import AttemptTable

    plain = _run(tmp_path, "a")
    scaled = tmp_path / "scaled"
    shutil.copytree(plain, scaled)
    table = AttemptTable.read_csv(plain / "attempts.csv")
    table.rescaled(2.0).write_csv(scaled / "attempts.csv")  # wall seconds at time_scale 0.5
    for name, meta in (("run.json", lambda d: d), ("summary.json", lambda d: d["meta"])):
        data = json.loads((scaled / name).read_text())
        meta(data)["time_scale"] = 0.5
        (scaled / name).write_text(json.dumps(data))
    done = bootstorm("compare", plain, scaled, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    for metric in ("time_to_ready.p50", "time_to_ready_of_ready.p95"):
        delta = data["metrics"][metric]
        assert delta["candidate"] == delta["baseline"]
        assert delta["ci_low"] <= 0 <= delta["ci_high"], (metric, delta)
        assert delta["verdict"] == "no significant difference"
    assert data["time_to_ready_tests"]["ks_p"] > 0.99
