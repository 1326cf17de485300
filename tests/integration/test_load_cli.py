"""`bootstorm run --engine load` and `bootstorm calibrate` end to end (their own stack each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import cli
from sim.scenario import load_scenario

from tests.integration.test_load_engine import BASE

pytestmark = pytest.mark.integration


def write_scenario(tmp_path: Path, size: int = 10) -> Path:
    text = BASE.format(size=size, over="1s", horizon="60s", quota="", faults="[]", workers=1,
                       secret_timeout="10s", secret_retry="{kind: aws_standard}", time_scale=1.0)
    path = tmp_path / "small.yaml"
    path.write_text(text)
    return path


def test_run_on_the_load_engine_writes_the_run_and_locusts_report(tmp_path, capsys):
    path = write_scenario(tmp_path)
    code = cli.main(["run", str(path), "--engine", "load", "--workers", "1", "--out", str(tmp_path / "out"),
                     "--no-plots", "--quiet", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = json.loads(out[: out.rindex("}") + 1])
    assert summary["meta"]["engine"] == "load"
    assert summary["metrics"]["bootstrap_success_rate"] == 1.0
    (folder,) = (tmp_path / "out").iterdir()
    for name in ("run.json", "attempts.csv", "dependencies/secretsmanager.csv", "junit.xml",
                 "metrics.prom", "locust/locust_stats.csv", "locust/locust.html"):
        assert (folder / name).is_file(), name


def test_calibrate_with_fit_measures_the_fakes_and_reports_side_by_side(tmp_path, capsys):
    path = write_scenario(tmp_path, size=12)
    code = cli.main(["calibrate", str(path), "--fit", "--workers", "1", "--out", str(tmp_path / "out"),
                     "--no-plots"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| time_to_ready.p50 |" in out and "KS distance" in out and "measured on the fakes" in out
    (folder,) = (tmp_path / "out").iterdir()
    data = json.loads((folder / "calibration.json").read_text())
    assert data["engines"] == ["load", "sim", "sim-fitted"] and 0.0 <= data["ks"]["sim-fitted"] <= 1.0
    rows = {r["metric"]: r for r in data["rows"]}
    assert rows["secretsmanager.calls"]["values"]["load"] == 12
    assert rows["bootstrap_success_rate"]["values"]["load"] == 1.0
    assert any("GetSecretValue.service_time: lognormal" in p for p in data["fit_parameters"])
    calibrated = load_scenario(folder / "calibrated-scenario.yaml")  # a valid scenario file
    measured = calibrated.dependencies["secretsmanager"].operations["GetSecretValue"].service_time
    assert measured.kind == "lognormal" and 0 < measured.median < 5
    assert (folder / "time_to_ready_cdf.png").stat().st_size > 1000
    assert (folder / "load" / "locust" / "locust_stats.csv").is_file()
    assert (folder / "sim-fitted" / "run.json").is_file()


def test_calibrate_refuses_a_bad_time_scale_with_exit_2(tmp_path, capsys):
    code = cli.main(["calibrate", str(write_scenario(tmp_path)), "--time-scale", "0"])
    assert code == 2 and "--time-scale" in capsys.readouterr().err
