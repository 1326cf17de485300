"""A metric that was not measured never looks passed, even with --allow-unmeasured: in
metrics.prom (checked with prometheus_client's OpenMetrics parser), summary.json, junit.xml,
report.md and the console."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from sim.metrics import Summary
from sim.report import render_console, write_report
from test_report_files import small_run

parser = pytest.importorskip("prometheus_client.openmetrics.parser")

UNMEASURED = "secret_exposure_events <= 0"  # the sim engine cannot measure it
PASSING = "bootstrap_retries.max <= 10"
ELSEWHERE = "bootstrap_retries.max <= 10 on exec"
SLOS = [UNMEASURED, PASSING, ELSEWHERE]


@pytest.fixture(scope="module", params=[True, False], ids=["allowed", "default"])
def report(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    run = small_run(slos=SLOS)
    run.write(folder)
    summary = write_report(run, folder, plots=False, allow_unmeasured=request.param)
    return request.param, folder, summary


def _samples(folder, family):
    text = (folder / "metrics.prom").read_text()
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    return families[family]


def test_prom_passed_is_0_for_an_unmeasured_slo(report):
    _, folder, _ = report
    passed = {s.labels["slo"]: s.value for s in _samples(folder, "bootstorm_slo_passed").samples}
    assert passed == {UNMEASURED: 0, PASSING: 1}  # the scoped one is not judged: no sample


def test_prom_verdict_is_a_stateset_with_one_state_set_per_slo(report):
    _, folder, _ = report
    family = _samples(folder, "bootstorm_slo_verdict")
    assert family.type == "stateset"
    states = {}
    for s in family.samples:
        states.setdefault(s.labels["slo"], {})[s.labels["bootstorm_slo_verdict"]] = s.value
    assert states == {
        UNMEASURED: {"pass": 0, "fail": 0, "unmeasured": 1, "not_applicable": 0},
        PASSING: {"pass": 1, "fail": 0, "unmeasured": 0, "not_applicable": 0},
        ELSEWHERE: {"pass": 0, "fail": 0, "unmeasured": 0, "not_applicable": 1},
    }


def test_summary_json_never_says_passed_for_unmeasured(report):
    allowed, folder, summary = report
    text = (folder / "summary.json").read_text()
    data = json.loads(text)
    rows = {v["slo"]: v for v in data["verdicts"]}
    assert (rows[UNMEASURED]["passed"], rows[UNMEASURED]["fails_run"]) == (False, not allowed)
    assert (rows[PASSING]["passed"], rows[PASSING]["fails_run"]) == (True, False)
    assert (rows[ELSEWHERE]["passed"], rows[ELSEWHERE]["fails_run"]) == (False, False)
    assert data["slos_passed"] is False  # one was not measured: not "passed", allowed or not
    assert data["slos_accepted"] is allowed  # the exit code's view
    assert Summary.from_json(text).verdicts == summary.verdicts  # round trip


def test_junit_shows_it_as_skipped_or_failed_never_as_a_pass(report):
    allowed, folder, _ = report
    cases = {c.get("name"): c for c in
             ET.parse(folder / "junit.xml").getroot().find("testsuite").findall("testcase")}
    case = cases[UNMEASURED]
    assert (case.find("skipped") is not None) is allowed
    assert (case.find("failure") is not None) is not allowed
    assert case.find("system-out") is None


def test_report_md_and_console_count_it_apart_from_the_passes(report):
    allowed, folder, summary = report
    line = ("1 of 3 SLOs passed, 1 not measured (allowed), 1 not applicable on sim" if allowed
            else "1 of 3 SLOs failed (1 not measured), 1 not applicable on sim")
    md = (folder / "report.md").read_text()
    assert line[0].upper() + line[1:] + "." in md
    assert "all 3 SLOs passed" not in md.lower()
    console = Console(width=200, record=True, color_system=None)
    render_console(summary, console)
    assert line in console.export_text()
