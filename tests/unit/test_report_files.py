"""write_report and report_from_folder: every file written, parseable, and consistent.

metrics.prom is checked with prometheus_client's OpenMetrics parser (skipped if it is missing).
"""

import json
import math
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from sim.metrics import Summary, summarize
from sim.report import REPORT_FILES, render_console, report_from_folder, write_report
from sim.report.openmetrics import _escape_label, render_openmetrics
from sim.report.plots import PLOT_FILES
from sim.results import AttemptTable, DependencySeries, FaultWindow, Run, RunMeta

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small_run(slos=None, engine="sim", warnings=()):
    table = AttemptTable(["token", "secret"])
    for i in range(30):
        ready = i % 10 != 9
        launch = float(i)
        table.append(
            instance=i, attempt=1, launch=launch, start=launch + 4, end=launch + 25,
            ready_time=launch + 20 + i % 7 if ready else math.nan,
            outcome="ready" if ready else "hung", error_class="" if ready else "BootTimeout",
            failed_step="" if ready else "secret", retries=i % 4,
            step_retries=[i % 2, i % 4 - i % 2],
            marks={"agent_started": launch + 5, "secret_fetched": launch + 9,
                   "app_started": launch + 12} if ready else {"agent_started": launch + 5},
        )
    sts = DependencySeries.empty("sts", 1.0, 60.0, 40.0)
    sts.counts["needed"][:30] = 2
    sts.counts["offered"][:30] = 3
    sts.counts["served"][:30] = 2
    sts.counts["throttled"][10:20] = 1
    sts.counts["timed_out"][:10] = 1
    sts.counts["timed_out"][20:30] = 1
    sts.latency_hist[:30, 120] = 2
    meta = RunMeta(engine=engine, seed=3, scenario_name="small", scenario_hash="h1",
                   scenario_file="scenarios/small.yaml", horizon=60.0,
                   started_at="2026-11-26T00:00:00Z", wall_seconds=1.5, sim_end=60.0,
                   instances=30, warnings=list(warnings))
    faults = [FaultWindow("throttle", "sts", 10.0, 20.0, {"rate": 1})]
    scenario = {"name": "small", "slos": slos if slos is not None else [
        "time_to_ready_of_ready.p95 <= 30s", "bootstrap_success_rate >= 99%",
        "dependencies.sts.metastable == false", "dependencies.nope.goodput >= 50%",
    ]}
    return Run(meta, table, {"sts": sts}, faults, scenario)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    run = small_run()
    run.write(folder)
    return folder, write_report(run, folder)


def test_every_file_is_written(written):
    folder, _ = written
    for name in REPORT_FILES + PLOT_FILES:
        assert (folder / name).stat().st_size > 0, name


def test_plots_are_valid_pngs(written):
    folder, _ = written
    for name in PLOT_FILES:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 400 and height >= 200, (name, width, height)


def test_summary_json_matches_and_round_trips(written):
    folder, summary = written
    text = (folder / "summary.json").read_text()
    data = json.loads(text)  # strict JSON: NaN was written as null
    assert data["metrics"]["bootstrap_success_rate"] == 0.9
    assert data["outcomes"] == {"ready": 27, "failed": 0, "hung": 3, "unfinished": 0}
    assert data["error_classes"] == {"BootTimeout": 3}
    assert data["slos_passed"] is False
    assert data["meta"]["seed"] == 3
    assert Summary.from_json(text).verdicts == summary.verdicts


def test_junit_has_one_testcase_per_slo_and_the_right_failures(written):
    folder, _ = written
    root = ET.parse(folder / "junit.xml").getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "time_to_ready_of_ready.p95 <= 30s", "bootstrap_success_rate >= 99%",
        "dependencies.sts.metastable == false", "dependencies.nope.goodput >= 50%",
    ]
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"bootstrap_success_rate >= 99%", "dependencies.nope.goodput >= 50%"}
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    message = failed["bootstrap_success_rate >= 99%"].get("message")
    assert "90.00%" in message and ">= 99.00%" in message
    assert "not measured" in failed["dependencies.nope.goodput >= 50%"].get("message")
    assert failed["dependencies.nope.goodput >= 50%"].get("type") == "SLONotMeasured"


def test_an_unmeasured_slo_shows_as_not_measured_in_every_output(tmp_path):
    run = small_run(slos=["secret_exposure_events <= 0", "bootstrap_retries.max <= 10"])
    run.write(tmp_path)
    summary = write_report(run, tmp_path, plots=False)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert [v["verdict"] for v in data["verdicts"]] == ["unmeasured", "pass"]
    assert data["verdicts"][0]["passed"] is False and data["slos_passed"] is False
    case = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite").findall("testcase")[0]
    assert "secret_exposure_events was not measured" in case.find("failure").get("message")
    md = (tmp_path / "report.md").read_text()
    assert "| secret_exposure_events <= 0 | not measured | <= 0 | **FAIL: not measured** |" in md
    assert "**1 of 2 SLOs failed (1 not measured).**" in md
    prom = (tmp_path / "metrics.prom").read_text()
    assert 'bootstorm_slo_unmeasured{slo="secret_exposure_events <= 0",metric="secret_exposure_events"} 1' in prom
    assert 'bootstorm_secret_exposure_events NaN' in prom
    console = Console(width=200, record=True, color_system=None)
    render_console(summary, console)
    text = console.export_text()
    assert "FAIL: not measured" in text and "1 of 2 SLOs failed (1 not measured)" in text


def test_an_slo_scoped_to_other_engines_shows_as_not_applicable_in_every_output(tmp_path):
    run = small_run(slos=["secret_exposure_events <= 0 on exec, load",
                          "bootstrap_success_rate >= 99%", "bootstrap_retries.max <= 10"])
    run.write(tmp_path)
    summary = write_report(run, tmp_path, plots=False)
    assert not summary.slos_passed  # the success rate failed; the scoped SLO counts for neither
    data = json.loads((tmp_path / "summary.json").read_text())
    assert [v["verdict"] for v in data["verdicts"]] == ["not_applicable", "fail", "pass"]
    assert data["verdicts"][0]["engines"] == ["exec", "load"]
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    case = suite.findall("testcase")[0]
    assert case.find("failure") is None
    assert case.find("skipped").get("message") == "applies to exec, load"
    md = (tmp_path / "report.md").read_text()
    assert ("| secret_exposure_events <= 0 on exec, load | - | <= 0 | "
            "not applicable (applies to exec, load) |") in md
    assert "**1 of 3 SLOs failed, 1 not applicable on sim.**" in md
    prom = (tmp_path / "metrics.prom").read_text()
    label = 'slo="secret_exposure_events <= 0 on exec, load",metric="secret_exposure_events"'
    assert f"bootstorm_slo_not_applicable{{{label}}} 1" in prom
    assert f"bootstorm_slo_passed{{{label}}}" not in prom  # not a pass, not a fail
    assert f"bootstorm_slo_unmeasured{{{label}}} 0" in prom
    assert 'bootstorm_slo_passed{slo="bootstrap_retries.max <= 10"' in prom
    console = Console(width=200, record=True, color_system=None)
    render_console(summary, console)
    text = console.export_text()
    assert "not applicable (applies to exec, load)" in text
    assert "1 of 3 SLOs failed, 1 not applicable on sim" in text


def test_an_applicable_scoped_slo_is_judged_and_all_passing_says_how_many(tmp_path):
    run = small_run(slos=["bootstrap_retries.max <= 10 on exec", "bootstrap_retries.max <= 10 on sim"])
    run.write(tmp_path)
    summary = write_report(run, tmp_path, plots=False)
    assert summary.slos_passed
    assert [v.verdict for v in summary.verdicts] == ["not_applicable", "pass"]
    assert "1 of 2 SLOs passed, 1 not applicable on sim." in (tmp_path / "report.md").read_text()
    again = report_from_folder(tmp_path, plots=False)  # re-read from the folder: same verdicts
    assert [v.verdict for v in again.verdicts] == ["not_applicable", "pass"]


def test_allow_unmeasured_passes_but_still_says_not_measured(tmp_path):
    run = small_run(slos=["secret_exposure_events <= 0"])
    run.write(tmp_path)
    summary = write_report(run, tmp_path, plots=False, allow_unmeasured=True)
    assert summary.slos_passed
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["verdicts"][0]["verdict"] == "unmeasured" and data["allow_unmeasured"] is True
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0" and suite.get("skipped") == "1"
    assert suite.find("testcase").find("skipped") is not None
    assert "not measured (allowed)" in (tmp_path / "report.md").read_text()


def test_report_md_links_plots_and_shows_tables(written):
    folder, _ = written
    text = (folder / "report.md").read_text()
    for name in PLOT_FILES:
        assert f"]({name})" in text
    assert "| bootstrap_success_rate >= 99% | 90.00% | >= 99.00% | **FAIL** |" in text
    assert "| launch -> start (OS boot) | 30 | 4.0s | 4.0s |" in text
    assert "| sts |" in text and "BootTimeout" in text


def test_report_from_folder_rewrites_the_same_summary(written, tmp_path):
    folder, summary = written
    run = small_run()
    run.write(tmp_path)
    again = report_from_folder(tmp_path, plots=False)
    assert again.verdicts == summary.verdicts
    assert again.outcomes == summary.outcomes
    for key, value in summary.metrics.items():
        other = again.metrics[key]
        assert (math.isnan(value) and math.isnan(other)) or other == pytest.approx(value), key
    assert not (tmp_path / "time_to_ready_cdf.png").exists()
    assert "](time_to_ready_cdf.png)" not in (tmp_path / "report.md").read_text()


def test_nobody_ready_and_no_dependencies_still_reports(tmp_path):
    table = AttemptTable([])
    table.append(instance=0, attempt=1, launch=0.0, start=math.nan, end=math.nan,
                 ready_time=math.nan, outcome="unfinished")
    meta = RunMeta("sim", 1, "empty", "h", None, 10.0, "2026-11-26T00:00:00Z", sim_end=10.0)
    run = Run(meta, table, {}, [], {"slos": ["time_to_ready.p50 <= 1s"]})
    summary = write_report(run, tmp_path)
    assert not summary.verdicts[0].passed
    for name in PLOT_FILES:
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)


def test_console_shows_headline_verdicts_and_warnings():
    run = small_run(warnings=["fake too slow"])
    console = Console(record=True, width=120, color_system=None)
    render_console(summarize(run), console)
    text = console.export_text()
    assert "90.00%" in text and "FAIL" in text and "pass" in text
    assert "sts" in text and "warning: fake too slow" in text
    assert "2 of 4 SLOs failed" in text


# -- metrics.prom ----------------------------------------------------------------------


def families(text):
    parser = pytest.importorskip("prometheus_client.openmetrics.parser")
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def sample(fams, family, **labels):
    matches = [s for s in fams[family].samples
               if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (family, labels, fams[family].samples)
    return matches[0].value


@pytest.fixture(scope="module")
def exposition():
    """metrics.prom checked with prometheus_client's strict OpenMetrics parser."""
    return render_openmetrics(summarize(small_run()))


def test_ends_with_eof_and_parses(exposition):
    assert exposition.endswith("# EOF\n")
    fams = families(exposition)
    assert fams["bootstorm_time_to_ready_seconds"].type == "gauge"
    assert fams["bootstorm_time_to_ready_seconds"].unit == "seconds"
    assert fams["bootstorm_run"].type == "info"


def test_values_and_labels(exposition):
    fams = families(exposition)
    assert sample(fams, "bootstorm_bootstrap_success_rate") == 0.9
    assert sample(fams, "bootstorm_instances") == 30
    assert sample(fams, "bootstorm_boot_attempts", outcome="hung") == 3
    assert sample(fams, "bootstorm_time_to_ready_seconds", stat="p99.9") > 20
    assert sample(fams, "bootstorm_dependency_peak_offered_rps", dependency="sts") == 3
    assert sample(fams, "bootstorm_dependency_latency_seconds", dependency="sts", stat="p99") > 0
    assert sample(fams, "bootstorm_slo_passed", slo="bootstrap_success_rate >= 99%") == 0
    assert sample(fams, "bootstorm_slo_passed", slo="time_to_ready_of_ready.p95 <= 30s") == 1
    assert sample(fams, "bootstorm_boot_errors", error_class="BootTimeout") == 3
    run_info = fams["bootstorm_run"].samples[0]
    assert run_info.labels["engine"] == "sim" and run_info.labels["seed"] == "3"


def test_not_measured_is_nan(exposition):
    fams = families(exposition)
    slo = "dependencies.nope.goodput >= 50%"
    assert math.isnan(sample(fams, "bootstorm_slo_measured", slo=slo))


def test_each_family_once_with_help_and_type(exposition):
    lines = exposition.splitlines()
    types = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    helps = [line.split()[2] for line in lines if line.startswith("# HELP ")]
    assert len(types) == len(set(types)) == len(helps)
    assert all(name.startswith("bootstorm_") for name in types)
    assert lines.count("# EOF") == 1 and lines[-1] == "# EOF"


def test_label_values_are_escaped():
    assert _escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    run = small_run(slos=[])
    run.dependencies['we"ird\\dep'] = run.dependencies.pop("sts")
    run.dependencies['we"ird\\dep'].name = 'we"ird\\dep'
    fams = families(render_openmetrics(summarize(run)))
    assert sample(fams, "bootstorm_dependency_peak_offered_rps", dependency='we"ird\\dep') == 3


def test_the_fault_table_marks_faults_that_never_happened_and_instants(tmp_path):
    run = small_run(slos=[])
    run.meta.partial, run.meta.sim_end = True, 50.0
    run.faults = [FaultWindow("throttle", "sts", 10.0, 20.0, {"rate": 1}),
                  FaultWindow("expire_credentials", "instances", 15.0, 60.0),
                  FaultWindow("outage", "sts", 40.0, 60.0),
                  FaultWindow("outage", "sts", 55.0, 58.0)]
    run.write(tmp_path)
    summary = write_report(run, tmp_path, plots=False)
    md = (tmp_path / "report.md").read_text()
    assert "| throttle | sts | 10.0s | 20.0s |  | rate=1 |" in md
    assert "| expire_credentials | instances | 15.0s | - | instant |  |" in md
    assert "| outage | sts | 40.0s | 1m00s | still on when the run ended |  |" in md
    assert "| outage | sts | 55.0s | 58.0s | never happened: the run ended at 50.0s |  |" in md
    assert any("outage on sts (at 55s) never happened" in w for w in summary.warnings)
    assert not any("expire_credentials" in w for w in summary.warnings)
