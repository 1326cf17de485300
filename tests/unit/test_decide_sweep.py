"""``bootstorm sweep`` through the real CLI: the table, the statistics, resuming after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from _decide_helpers import FAST, STORM, bootstorm, cli_env
from sim.decide import prepare_sweep, sweep_folder
from sim.decide.space import point_overrides
from sim.decide.task import Task, run_task


def test_grid_sweep_writes_one_table_with_runs_points_intervals_and_slo_probabilities(tmp_path):
    done = bootstorm("sweep", STORM, *FAST, "--vary", "fleet.size=100,1000", "--seeds", "3",
                     "--workers", "2", "--out", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "6 run now (0 from the journal)" in done.stdout
    (folder,) = tmp_path.glob("autoscale-storm-sweep-*")
    table = pq.read_table(folder / "sweep.parquet").to_pylist()
    assert pacsv.read_csv(folder / "sweep.csv").num_rows == len(table) == 6 + 2
    runs = [r for r in table if r["row"] == "run"]
    points = {r["fleet.size"]: r for r in table if r["row"] == "point"}
    # Common random numbers: the same seeds at every point
    seeds = {size: sorted(r["seed"] for r in runs if r["fleet.size"] == size) for size in (100, 1000)}
    assert seeds[100] == seeds[1000] == [42, 43, 44]
    # A point row is the mean of its run rows, with an interval around it
    small_runs = [r for r in runs if r["fleet.size"] == 100]
    p95 = [r["time_to_ready.p95"] for r in small_runs]
    assert points[100]["time_to_ready.p95"] == pytest.approx(sum(p95) / 3)
    assert points[100]["time_to_ready.p95.ci_low"] <= min(p95) + 1e-9
    assert points[100]["time_to_ready.p95.ci_high"] >= max(p95) - 1e-9
    # 100 boots in 10 s fit SSM's 40/s quota; 1,000 (100/s) do not
    assert points[100]["slo:all"] == 1.0
    assert points[1000]["slo:all"] == 0.0
    assert points[1000]["slo:dependencies.ssm.throttled_share <= 5%"] == 0.0
    assert (folder / "sweep-fleet.size.png").stat().st_size > 1000
    again = bootstorm("sweep", STORM, *FAST, "--vary", "fleet.size=100,1000", "--seeds", "3",
                      "--workers", "1", "--out", tmp_path, "--no-plots", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 run now (6 from the journal)" in again.stdout


def test_two_parameter_grid_gives_a_heatmap_and_lhs_a_seeded_sample(tmp_path):
    done = bootstorm("sweep", STORM, *FAST, "--vary", "fleet.size=100,200",
                     "--vary", "dependencies.ssm.operations.GetParameter.quota.rate=5,40",
                     "--seeds", "1", "--workers", "1", "--out", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (folder,) = tmp_path.glob("autoscale-storm-sweep-*")
    assert list(folder.glob("sweep-fleet.size-x-dependencies*.png"))
    lhs = bootstorm("sweep", STORM, *FAST, "--vary", "fleet.size=100..300", "--samples", "3",
                    "--seeds", "1", "--workers", "1", "--out", tmp_path / "lhs", "--no-plots",
                    cwd=tmp_path)
    assert lhs.returncode == 0, lhs.stderr
    rows = pq.read_table(next((tmp_path / "lhs").glob("*/sweep.parquet"))).to_pylist()
    sizes = sorted(r["fleet.size"] for r in rows if r["row"] == "point")
    assert len(sizes) == 3 and all(100 <= s <= 300 for s in sizes)


@pytest.mark.parametrize("vary, expected", [
    ("fleet.sise=100,200", "fleet.sise: unknown field 'sise'; did you mean 'size'?"),
    ("fleet.size=100,many", "fleet.size: expected an integer; got 'many'"),
    ("fleet.size=100..200", "needs --samples"),
])
def test_bad_vary_exits_2_in_the_loaders_style_and_writes_nothing(tmp_path, vary, expected):
    done = bootstorm("sweep", STORM, "--vary", vary, "--out", tmp_path, cwd=tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_killed_with_sigkill_resumes_where_it_stopped(tmp_path):
    argv = ["sweep", STORM, *FAST, "--vary", "fleet.size=300,400,500,600,700,800",
            "--seeds", "2", "--workers", "1", "--out", tmp_path, "--no-plots"]
    plan = prepare_sweep(STORM, argv[argv.index("--vary") + 1:argv.index("--vary") + 2],
                         seeds=2, overrides=FAST[1:])
    folder = sweep_folder(plan, tmp_path)
    journal = folder / "runs.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *map(str, argv)], cwd=tmp_path,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if journal.exists() and len(journal.read_text().splitlines()) >= 3:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the sweep wrote no runs in 240 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, mid-sweep
        proc.wait(timeout=60)
    finished_before = len(journal.read_text().splitlines())
    assert 3 <= finished_before < 12, "killed too late to test resuming"

    done = bootstorm(*argv, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{12 - finished_before} run now ({finished_before} from the journal)" in done.stdout
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted((r["point"], r["seed"]) for r in records) == sorted(
        {(r["point"], r["seed"]) for r in records})  # nothing run twice
    assert len(records) == 12
    # A run from before the kill equals the same run done now: resuming changes nothing
    first = records[0]
    again = run_task(Task(STORM.read_text(), str(STORM),
                          tuple(FAST[1:]) + tuple(point_overrides(first["params"])),
                          first["seed"]))
    assert again["metrics"]["time_to_ready.p95"] == pytest.approx(first["metrics"]["time_to_ready.p95"])


def _wait_for_runs(journal, proc, n):
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    pytest.fail(f"the sweep wrote fewer than {n} runs in 240 s")


def test_ctrl_c_stops_a_sweep_cleanly_and_keeps_the_finished_runs(tmp_path):
    sizes = "fleet.size=300,400,500,600,700,800,900,1000"
    plan = prepare_sweep(STORM, [sizes], seeds=2, overrides=FAST[1:])
    journal = sweep_folder(plan, tmp_path) / "runs.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "sweep", str(STORM), *FAST, "--vary", sizes, "--seeds",
         "2", "--workers", "2", "--out", str(tmp_path), "--no-plots"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        _wait_for_runs(journal, proc, 2)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert 2 <= len(journal.read_text().splitlines()) < 16


def test_the_progress_bar_shows_an_eta_on_a_terminal(tmp_path):
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "sweep", str(STORM), *FAST, "--vary",
         "fleet.size=100,200", "--seeds", "2", "--workers", "1", "--out", str(tmp_path),
         "--no-plots"], cwd=tmp_path, env={**cli_env(), "COLUMNS": "160"},
        stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process exited
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0
    text = seen.decode(errors="replace")
    assert "sweep" in text and "ETA" in text and "/4" in text  # done/total runs
