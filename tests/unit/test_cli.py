"""The ``bootstorm`` command: exit codes, what it prints, what it writes.

Most tests call ``sim.cli.main`` in-process (fast); a few run the real console script and
``python -m sim.cli`` to check what a user sees: exit code 2, the message, no traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _scenario_fixtures import BASE_YAML, base, write
from sim import cli
from sim.cli import main
from sim.errors import RunFailed

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
STORM = SCENARIOS / "autoscale-storm.yaml"
RUN_FILES = ("summary.json", "report.md", "attempts.csv", "junit.xml", "metrics.prom", "run.json")


@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path, BASE_YAML, "good.yaml")


@pytest.fixture
def bad(tmp_path) -> Path:
    return write(tmp_path, BASE_YAML.replace("  size: 50", "  size: lots"), "bad.yaml")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir()) if out.exists() else []


# --- validate ------------------------------------------------------------------------------


def test_validate_a_good_file(capsys, good):
    code, out, err = run_cli(capsys, "validate", good)
    assert code == 0
    assert out.strip() == (
        f"{good}: ok (tiny: 50 instances, 4 steps, 2 dependencies, 1 faults, 2 SLOs)"
    )
    assert err == ""


def test_validate_a_bad_file(capsys, bad):
    code, out, err = run_cli(capsys, "validate", bad)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"error: {bad}: invalid scenario (1 problem)",
        f"  {bad}:7: fleet.size: expected an integer; got 'lots'",
    ]


def test_validate_several_files_reports_each_and_fails_if_any_is_bad(capsys, good, bad, tmp_path):
    missing = tmp_path / "missing.yaml"
    code, out, err = run_cli(capsys, "validate", good, bad, missing, STORM)
    assert code == 2
    assert f"{good}: ok" in out and f"{STORM}: ok" in out
    assert f"{bad}:7: fleet.size" in err
    assert f"error: {missing}: no such scenario file" in err


def test_validate_every_shipped_scenario(capsys):
    files = sorted(SCENARIOS.glob("*.yaml"))
    code, out, err = run_cli(capsys, "validate", *files)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == len(files)


def test_validate_warns_about_an_slo_scoped_to_engines_that_cannot_measure_it(capsys, good):
    # Valid (exit 0), but it can never pass: only the exec engine finds exposed secrets.
    slo = 'slos=["secret_exposure_events <= 0 on sim, load"]'  # quoted: a comma in [...]
    code, out, err = run_cli(capsys, "validate", good, "--set", slo)
    assert code == 0 and ": ok (" in out
    assert ("warning: slos.0 (secret_exposure_events <= 0 on sim, load): applies only on sim, "
            "load, which cannot measure secret_exposure_events: it can never pass") in err
    code, _, err = run_cli(capsys, "validate", good, "--set",
                           "slos=[{metric: secret_exposure_events, op: <=, value: 0, "
                           "engines: [exec, sim]}]")
    assert code == 0 and "sim cannot measure secret_exposure_events: there it fails as not " \
        "measured" in err
    code, out, _ = run_cli(capsys, "run", good, "--dry-run", "--set", slo)
    assert code == 0 and "it can never pass" in out
    code, _, err = run_cli(capsys, "validate", good, "--set",
                           "slos=[secret_exposure_events <= 0 on exec]")
    assert (code, err) == (0, "")


def test_validate_with_set(capsys, good, bad):
    code, out, _ = run_cli(capsys, "validate", bad, "--set", "fleet.size=20")
    assert code == 0 and "20 instances" in out
    code, _, err = run_cli(capsys, "validate", good, "--set", "fleet.size=-3")
    assert code == 2
    assert "fleet.size: expected a value >= 1; got -3 (value from --set fleet.size=-3)" in err


@pytest.mark.parametrize("item, fragment", [
    ("fleet.size", "--set expects PATH=VALUE"),
    ("bootstrap.steps.12.name=x", "index 12 is out of range"),
    ("fleet.size.x=1", "fleet.size holds 50, not a mapping or list"),
])
def test_set_errors_exit_2(capsys, good, item, fragment):
    for command in (["validate", good], ["run", good, "--dry-run"]):
        code, out, err = run_cli(capsys, *command, "--set", item)
        assert code == 2
        assert fragment in err and err.startswith("error: --set ")


def test_validate_a_directory(capsys, tmp_path):
    code, _, err = run_cli(capsys, "validate", tmp_path)
    assert code == 2
    assert err.strip() == f"error: {tmp_path}: is a directory; expected a scenario YAML file"


def test_validate_an_empty_file(capsys, tmp_path):
    empty = write(tmp_path, "", "empty.yaml")
    code, _, err = run_cli(capsys, "validate", empty)
    assert code == 2
    assert f"  {empty}: the file is empty" in err


# --- schema --------------------------------------------------------------------------------


def test_schema_prints_valid_json_schema(capsys):
    code, out, err = run_cli(capsys, "schema")
    assert (code, err) == (0, "")
    schema = json.loads(out)
    assert "$defs" in schema
    assert {"name", "fleet", "dependencies", "bootstrap", "faults", "slos", "run"} <= set(
        schema["properties"]
    )


# --- run --dry-run -------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_the_quota_warning_and_writes_nothing(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "run", STORM, "--dry-run", "--out", out_dir)
    assert (code, err) == (0, "")
    assert "autoscale-storm: 20,000 instances, ramp of 20,000 over 2m00s; seed 42" in out
    assert "fetch_config: call ssm.GetParameter after role_credentials" in out
    assert "ssm.GetParameter" in out and "│       40 │" in out
    assert ("warning: ssm.GetParameter: launches imply about 167 calls/s, over its quota of "
            "40/s: expect throttling and retries") in out
    assert "SLO: dependencies.ssm.throttled_share <= 5%" in out
    assert out.rstrip().endswith("dry run: nothing was simulated")
    assert list(tmp_path.iterdir()) == []  # no --out folder, no results/ in the cwd


def test_dry_run_rejects_a_bad_file(capsys, bad):
    code, out, err = run_cli(capsys, "run", bad, "--dry-run")
    assert code == 2 and out == ""
    assert f"{bad}:7: fleet.size" in err


# --- run -----------------------------------------------------------------------------------


def _passing(tmp_path) -> Path:
    return write(tmp_path, BASE_YAML, "tiny.yaml")


def test_run_writes_a_complete_run_folder_and_exits_0_when_slos_pass(capsys, tmp_path):
    out_dir = tmp_path / "results"
    code, out, err = run_cli(capsys, "run", STORM, "--set", "fleet.size=200", "--out", out_dir,
                             "--quiet")
    assert code == 0, err
    (folder,) = run_folders(out_dir)
    assert folder.name.startswith("autoscale-storm-sim-seed42-")
    for name in RUN_FILES:
        assert (folder / name).is_file(), name
    assert sorted(folder.glob("*.png")), "plots are drawn unless --no-plots"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["slos_passed"] is True
    # secret_exposure_events is scoped to the exec engine: not judged on sim, and said so.
    assert "4 of 5 SLOs passed, 1 not applicable on sim" in out
    assert "not applicable (applies to exec)" in out and "not measured (allowed)" not in out
    assert [v["verdict"] for v in summary["verdicts"]][-1] == "not_applicable"
    assert f"report: {folder / 'report.md'}" in out
    assert (folder / "attempts.csv").read_text().count("\n") >= 201  # header + one per attempt


def test_an_slo_scoped_to_another_engine_does_not_fail_the_run(capsys, tmp_path):
    scenario = _passing(tmp_path)
    slos = "slos=[secret_exposure_events <= 0 on exec, bootstrap_success_rate >= 50%]"
    code, out, _ = run_cli(capsys, "run", scenario, "--no-plots", "--out", tmp_path / "a",
                           "--set", slos)
    assert code == 0
    assert "1 of 2 SLOs passed, 1 not applicable on sim" in out
    # Scoped to this engine and not measured here: it fails like any unmeasured SLO.
    code, out, _ = run_cli(capsys, "run", scenario, "--no-plots", "--out", tmp_path / "b",
                           "--set", "slos=[secret_exposure_events <= 0 on sim]")
    assert code == 1 and "1 of 1 SLOs failed (1 not measured)" in out


def test_an_slo_the_engine_cannot_measure_fails_unless_allowed(capsys, tmp_path):
    scenario = _passing(tmp_path)
    slos = "slos=[secret_exposure_events <= 0, bootstrap_success_rate >= 50%]"
    code, out, _ = run_cli(capsys, "run", scenario, "--no-plots", "--out", tmp_path / "a",
                           "--set", slos)
    assert code == 1
    assert "FAIL: not measured" in out and "1 of 2 SLOs failed (1 not measured)" in out
    code, out, _ = run_cli(capsys, "run", scenario, "--no-plots", "--out", tmp_path / "b",
                           "--set", slos, "--allow-unmeasured", "--json")
    assert code == 0
    data = json.loads(out)
    assert [v["verdict"] for v in data["verdicts"]] == ["unmeasured", "pass"]
    (folder,) = run_folders(tmp_path / "a")
    code, out, _ = run_cli(capsys, "report", folder, "--no-plots", "--allow-unmeasured")
    assert code == 0 and "not measured (allowed)" in out


def test_run_exits_1_when_an_slo_fails(capsys, tmp_path):
    scenario = _passing(tmp_path)
    out_dir = tmp_path / "results"
    code, out, _ = run_cli(capsys, "run", scenario, "--no-plots", "--out", out_dir,
                           "--set", "slos=[time_to_ready.p95 <= 1s, bootstrap_success_rate >= 50%]")
    assert code == 1
    (folder,) = run_folders(out_dir)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["slos_passed"] is False
    junit = (folder / "junit.xml").read_text()
    assert "<failure" in junit and "time_to_ready.p95" in junit
    assert not list(folder.glob("*.png"))


def test_run_json_prints_the_summary(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", _passing(tmp_path), "--no-plots", "--json",
                           "--out", tmp_path / "r", "--seed", "11")
    assert code == 0
    summary = json.loads(out)
    assert summary["slos_passed"] is True
    (folder,) = run_folders(tmp_path / "r")
    assert "-seed11-" in folder.name
    assert summary["folder"] == str(folder)
    assert (Path(summary["folder"]) / "summary.json").is_file()


def test_run_leaves_no_temporary_folders(capsys, tmp_path):
    out_dir = tmp_path / "results"
    scenario = _passing(tmp_path)
    for _ in range(2):
        assert run_cli(capsys, "run", scenario, "--no-plots", "--out", out_dir)[0] == 0
    names = [p.name for p in out_dir.iterdir()]
    assert len(names) == 2 and len(set(names)) == 2  # same second: the second gets a suffix
    assert not [n for n in names if n.startswith(".") or "tmp" in n]


@pytest.mark.parametrize("error, code, message", [
    (KeyboardInterrupt(), 130, "interrupted"),
    (RunFailed("disk full while writing the report"), 3, "error: disk full while writing the report"),
])
def test_a_run_stopped_while_writing_leaves_no_half_written_folder(
    capsys, tmp_path, monkeypatch, error, code, message
):
    import sim.report

    real = sim.report.write_report

    def write_then_fail(run, folder, **kwargs):
        real(run, folder, **kwargs)  # the files exist, as they would at a late Ctrl-C
        raise error

    monkeypatch.setattr(sim.report, "write_report", write_then_fail)
    out_dir = tmp_path / "results"
    got, out, err = run_cli(capsys, "run", _passing(tmp_path), "--no-plots", "--out", out_dir)
    assert got == code
    assert err.strip() == message
    assert list(out_dir.iterdir()) == []


def test_run_rejects_a_bad_file_before_running(capsys, tmp_path, bad):
    out_dir = tmp_path / "results"
    code, out, err = run_cli(capsys, "run", bad, "--out", out_dir)
    assert code == 2 and out == ""
    assert "fleet.size: expected an integer; got 'lots'" in err
    assert not out_dir.exists()


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_unknown_engine_exits_2(capsys, tmp_path, good, extra):
    code, out, err = run_cli(capsys, "run", good, "--engine", "docker", "--out", tmp_path / "o",
                             *extra)
    assert code == 2
    from sim.runner import AVAILABLE_ENGINES

    assert "sim" in AVAILABLE_ENGINES
    assert err.strip() == (
        f"error: --engine: expected one of {', '.join(AVAILABLE_ENGINES)}, got 'docker'"
    )
    assert not (tmp_path / "o").exists()


def test_negative_seed_exits_2(capsys, good):
    code, _, err = run_cli(capsys, "run", good, "--seed", "-1", "--dry-run")
    assert code == 2
    assert err.strip() == "error: --seed: expected an integer >= 0, got -1"


def test_run_of_a_missing_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", tmp_path / "nope.yaml")
    assert code == 2
    assert err.strip() == f"error: {tmp_path / 'nope.yaml'}: no such scenario file"


# --- report --------------------------------------------------------------------------------


def test_report_rewrites_the_report_of_a_run_folder(capsys, tmp_path):
    out_dir = tmp_path / "results"
    assert run_cli(capsys, "run", _passing(tmp_path), "--no-plots", "--out", out_dir)[0] == 0
    (folder,) = run_folders(out_dir)
    original = (folder / "report.md").read_text()
    for name in ("report.md", "summary.json", "junit.xml", "metrics.prom"):
        (folder / name).unlink()
    code, out, err = run_cli(capsys, "report", folder, "--no-plots")
    assert (code, err) == (0, "")
    assert f"report: {folder / 'report.md'}" in out
    for name in ("report.md", "summary.json", "junit.xml", "metrics.prom"):
        assert (folder / name).is_file(), name
    assert (folder / "report.md").read_text() == original
    assert [p.name for p in out_dir.iterdir()] == [folder.name]


def test_report_on_a_folder_that_is_not_a_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", tmp_path)
    assert code == 2
    assert err.strip() == (f"error: {tmp_path}: not a run folder (no run.json); expected a "
                           "folder written by `bootstorm run`")


def test_report_on_a_missing_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", tmp_path / "gone")
    assert code == 2
    assert "no such folder" in err


# --- help and argument errors --------------------------------------------------------------


@pytest.mark.parametrize("command, options", [
    ([], ["run", "validate", "schema", "report", "examples:"]),
    (["run"], ["--engine", "--seed", "--set", "--out", "--no-plots", "--dry-run", "--quiet", "--json",
               "--allow-unmeasured"]),
    (["validate"], ["FILE", "--set"]),
    (["schema"], ["usage: bootstorm schema"]),
    (["report"], ["folder", "--no-plots"]),
])
def test_help_of_each_command(capsys, command, options):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in options:
        assert option in out


@pytest.mark.parametrize("argv", [[], ["launch"], ["run"], ["run", "x.yaml", "--seed", "many"]])
def test_argument_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: bootstorm" in err and "error:" in err


def test_epilog_examples_name_files_and_overrides_that_work(capsys):
    examples = [line.split()[1:] for line in cli._EPILOG.splitlines() if line.startswith("  bootstorm ")]
    assert examples
    for args in examples:
        if args[0] != "run":
            continue
        argv = [str(ROOT / a) if a.endswith(".yaml") else a for a in args[1:] if a != "\\"]
        if "--engine" in argv:  # validate has no --engine: the file and overrides are what count
            i = argv.index("--engine")
            del argv[i:i + 2]
        assert run_cli(capsys, "validate", *[a for a in argv if a != "--dry-run"])[0] == 0, args


# --- end to end: the real command ----------------------------------------------------------


def _subprocess(argv, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_runs_started_at_once_into_the_same_out_all_finish(tmp_path):
    # Same scenario, same seed, same second: the same folder name. Both must get a folder.
    scenario = _passing(tmp_path)
    out_dir = tmp_path / "results"
    argv = [sys.executable, "-m", "sim.cli", "run", str(scenario), "--no-plots", "--quiet",
            "--json", "--out", str(out_dir)]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    folders = {json.loads(out)["folder"] for out, _ in results}
    assert len(folders) == 3
    assert sorted(str(p) for p in out_dir.iterdir()) == sorted(folders)  # no temp folder left
    for folder in folders:
        assert (Path(folder) / "summary.json").is_file()


def test_publish_picks_the_next_name_when_the_rename_loses_a_race(tmp_path):
    from sim.runner import _publish

    wanted = tmp_path / "run-seed1-20260101-000000"
    for n in range(2):  # two finished runs racing for one name, the first already won
        tmp = tmp_path / f".tmp{n}"
        tmp.mkdir()
        (tmp / "summary.json").write_text(str(n))
        _publish(tmp, wanted)
    assert (wanted / "summary.json").read_text() == "0"
    assert (tmp_path / f"{wanted.name}-2" / "summary.json").read_text() == "1"


@pytest.mark.parametrize("launcher", ["console-script", "python-m"])
def test_bad_file_exits_2_with_the_message_and_no_traceback(tmp_path, launcher):
    bad = write(tmp_path, BASE_YAML.replace("horizon: 10m", "horizon: 1 fortnight"), "bad.yaml")
    if launcher == "console-script":
        exe = shutil.which("bootstorm")
        if exe is None:
            pytest.skip("the bootstorm console script is not installed (pip install -e .)")
        argv = [exe]
    else:
        argv = [sys.executable, "-m", "sim.cli"]
    for command in (["validate", str(bad)], ["run", str(bad)], ["run", str(bad), "--dry-run"]):
        done = _subprocess(argv + command, tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert (f"{bad}:5: run.horizon: expected a duration like 250ms, 30s, 2m or 1h30m, "
                f"got '1 fortnight'") in done.stderr
        assert done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # no results/ written


def test_argument_and_set_errors_from_the_real_command(tmp_path):
    good = write(tmp_path, base(), "good.yaml")
    for argv, fragment in [
        (["run", str(good), "--set", "fleet.size"], "--set expects PATH=VALUE"),
        (["run", str(good), "--engine", "docker"], "--engine: expected one of sim"),
        (["report", str(tmp_path)], "not a run folder"),
        (["validate", str(tmp_path / "nope.yaml")], "no such scenario file"),
        (["launch"], "invalid choice"),
    ]:
        done = _subprocess([sys.executable, "-m", "sim.cli", *argv], tmp_path)
        assert done.returncode == 2, (argv, done.stderr)
        assert fragment in done.stderr
        assert "Traceback" not in done.stderr


def test_validate_ok_from_the_real_command(tmp_path):
    done = _subprocess([sys.executable, "-m", "sim.cli", "validate", str(STORM)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{STORM}: ok (autoscale-storm: 20,000 instances")


def test_a_reader_that_stops_early_is_not_a_harness_failure():
    """`bootstorm schema | head -1`: the pipe closes after one line; no error, no traceback,
    the shell's SIGPIPE code (before: 'error: harness failure: BrokenPipeError', exit 3)."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "schema"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert first.strip() == b"{"
    assert stderr == ""
