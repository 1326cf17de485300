"""SLO verdicts, validity warnings and the Summary of a hand-built Run."""

import json
import math

import numpy as np
import pytest

from sim.metrics import Summary, Verdict, evaluate_slos, summarize
from sim.results import AttemptTable, DependencySeries, FaultWindow, Run, RunMeta
from sim.scenario.slos import SLO


def slos(*texts):
    return [SLO.model_validate(t) for t in texts]


def test_verdicts_pass_and_fail_with_measured_and_threshold():
    metrics = {"time_to_ready.p95": 72.5, "bootstrap_success_rate": 0.9995}
    v = evaluate_slos(slos("time_to_ready.p95 <= 60s", "bootstrap_success_rate >= 99.9%"), metrics)
    assert v[0] == Verdict("time_to_ready.p95 <= 60s", "time_to_ready.p95", 72.5, 60.0, "<=",
                           False, "duration", "fail")
    assert v[1].passed and v[1].threshold == 0.999 and v[1].kind == "ratio"
    assert v[1].verdict == "pass"


def test_nan_or_missing_measurement_is_unmeasured_and_fails():
    v = evaluate_slos(slos("time_to_ready.p99 <= 10m", "dependencies.sts.metastable == false"),
                      {"time_to_ready.p99": math.nan})
    assert [x.passed for x in v] == [False, False]
    assert [x.verdict for x in v] == ["unmeasured", "unmeasured"]
    assert math.isnan(v[0].measured) and math.isnan(v[1].measured)


def test_allow_unmeasured_lets_an_unmeasured_slo_pass_but_still_says_so():
    v = evaluate_slos(slos("secret_exposure_events <= 0", "bootstrap_retries.max <= 1"),
                      {"secret_exposure_events": math.nan, "bootstrap_retries.max": 2.0},
                      allow_unmeasured=True)
    assert [(x.verdict, x.passed) for x in v] == [("unmeasured", True), ("fail", False)]


def test_an_infinite_measurement_is_measured_and_compared():
    # "never" (an instance that never became ready) is a measurement, and a bad one.
    (v,) = evaluate_slos(slos("time_to_ready.p99 <= 5m"), {"time_to_ready.p99": math.inf})
    assert (v.verdict, v.passed) == ("fail", False)


def test_the_sim_engine_does_not_measure_secret_exposure_and_its_slo_fails():
    run = make_run()
    run.scenario["slos"] = ["secret_exposure_events <= 0"]
    s = summarize(run)
    assert math.isnan(s.metrics["secret_exposure_events"])
    assert [(v.verdict, v.passed) for v in s.verdicts] == [("unmeasured", False)]
    assert not s.slos_passed and s.unmeasured == s.verdicts
    allowed = summarize(run, allow_unmeasured=True)
    assert allowed.slos_passed and allowed.allow_unmeasured
    assert allowed.verdicts[0].verdict == "unmeasured"


def test_the_exec_engine_measures_secret_exposure():
    run = make_run("exec")
    run.scenario["slos"] = ["secret_exposure_events <= 0"]
    s = summarize(run)
    assert s.metrics["secret_exposure_events"] == 0.0
    assert s.verdicts[0].verdict == "pass"


def test_an_slo_scoped_to_other_engines_is_not_applicable_neither_pass_nor_fail():
    scoped = slos("secret_exposure_events <= 0 on exec, load",
                  {"metric": "bootstrap_retries.max", "op": "<=", "value": 1, "engines": ["sim"]})
    metrics = {"secret_exposure_events": math.nan, "bootstrap_retries.max": 2.0}
    on_sim = evaluate_slos(scoped, metrics, engine="sim")
    assert [(v.verdict, v.passed) for v in on_sim] == [("not_applicable", True), ("fail", False)]
    assert on_sim[0].engines == ("exec", "load") and on_sim[1].engines == ("sim",)
    # Where it applies, an unmeasured metric still fails: scoping is not a way around that.
    on_exec = evaluate_slos(scoped, metrics, engine="exec")
    assert [(v.verdict, v.passed) for v in on_exec] == [("unmeasured", False),
                                                        ("not_applicable", True)]
    # A measured value on an engine the SLO does not apply to is still not judged.
    (v,) = evaluate_slos(scoped[1:], {"bootstrap_retries.max": 0.0}, engine="exec")
    assert v.verdict == "not_applicable" and v.measured == 0.0
    # Without an engine (a caller that does not say), every SLO applies.
    assert [v.verdict for v in evaluate_slos(scoped, metrics)] == ["unmeasured", "fail"]


def test_a_scoped_secret_exposure_slo_does_not_fail_a_sim_run_but_judges_an_exec_run():
    run = make_run()
    run.scenario["slos"] = ["secret_exposure_events <= 0 on exec", "bootstrap_retries.max <= 100"]
    s = summarize(run)
    assert [v.verdict for v in s.verdicts] == ["not_applicable", "pass"]
    assert s.slos_passed and s.not_applicable == s.verdicts[:1] and s.unmeasured == []
    back = Summary.from_json(s.to_json())  # summary.json keeps the scope and the verdict
    assert back.verdicts == s.verdicts and back.verdicts[0].engines == ("exec",)
    assert json.loads(s.to_json())["verdicts"][0]["verdict"] == "not_applicable"
    run = make_run("exec")
    run.scenario["slos"] = ["secret_exposure_events <= 0 on exec"]
    assert summarize(run).verdicts[0].verdict == "pass"


def test_every_engine_declares_what_it_cannot_measure():
    from sim.engines import ENGINES, NOT_MEASURED
    from sim.scenario.slos import METRICS

    assert set(NOT_MEASURED) == set(ENGINES)
    for names in NOT_MEASURED.values():
        assert names <= set(METRICS)  # only real metric names


def test_boundaries_of_each_operator():
    m = {"bootstrap_retries.max": 3.0}
    ops = {"<= 3": True, "< 3": False, ">= 3": True, "> 3": False, "== 3": True}
    for rest, expected in ops.items():
        assert evaluate_slos(slos(f"bootstrap_retries.max {rest}"), m)[0].passed is expected


def make_run(engine="sim", capacity=math.nan, partial=False, warnings=()):
    table = AttemptTable(["fetch"])
    for i in range(10):
        ready = i < 9
        table.append(instance=i, attempt=1, launch=float(i), start=i + 5.0, end=i + 20.0,
                     ready_time=i + 20.0 if ready else math.nan,
                     outcome="ready" if ready else "failed",
                     error_class="" if ready else "ThrottlingException",
                     failed_step="" if ready else "fetch", retries=i, step_retries=[i],
                     marks={"secret_fetched": i + 8.0})
    dep = DependencySeries.empty("secretsmanager", 1.0, 60.0, capacity)
    dep.counts["offered"][:20] = 5
    dep.counts["needed"][:20] = 2
    dep.counts["served"][:20] = 2
    dep.counts["throttled"][:20] = 3
    meta = RunMeta(engine=engine, seed=7, scenario_name="demo", scenario_hash="abc",
                   scenario_file=None, horizon=60.0, started_at="2026-01-01T00:00:00Z",
                   warnings=list(warnings), partial=partial, sim_end=45.0 if partial else 60.0,
                   instances=10)
    scenario = {"name": "demo", "slos": [
        "time_to_ready.p95 <= 30s", "bootstrap_success_rate >= 95%",
        {"metric": "dependencies.secretsmanager.throttled_share", "op": "<", "value": "10%"},
    ]}
    faults = [FaultWindow("throttle", "secretsmanager", 5.0, 15.0, {"rate": 1})]
    return Run(meta, table, {"secretsmanager": dep}, faults, scenario)


def test_summarize_a_run():
    s = summarize(make_run())
    assert s.instances == 10 and s.attempts == 10
    assert s.metrics["bootstrap_success_rate"] == 0.9
    assert s.metrics["time_to_ready_of_ready.max"] == 20.0
    assert s.metrics["time_to_ready.max"] == math.inf  # instance 9 never became ready
    assert s.metrics["time_to_ready.p50"] == 20.0
    assert s.metrics["dependencies.secretsmanager.throttled_share"] == 0.6
    assert s.metrics["dependencies.secretsmanager.time_to_drain"] == 5.0  # clean from 20 s
    # p95 over the fleet reaches the instance that never became ready: "never", a failure.
    assert [v.passed for v in s.verdicts] == [False, False, False]
    assert [v.verdict for v in s.verdicts] == ["fail", "fail", "fail"]
    assert not s.slos_passed
    assert s.outcomes == {"ready": 9, "failed": 1, "hung": 0, "unfinished": 0}
    assert s.error_classes == {"ThrottlingException": 1}
    assert s.failed_steps == {"fetch": 1}
    assert s.step_retries == {"fetch": 4.5}
    assert s.dependency("secretsmanager")["peak_offered_rps"] == 5.0
    assert s.warnings == []


def test_capacity_warning_only_for_harness_engines():
    # Peak served is 2/s: 2 >= 0.9 x 2.2 warns, 2 < 0.9 x 2.3 does not.
    assert any("secretsmanager" in w and "capacity" in w
               for w in summarize(make_run("exec", capacity=2.2)).warnings)
    assert summarize(make_run("load", capacity=2.3)).warnings == []
    assert summarize(make_run("sim", capacity=2.0)).warnings == []


def test_partial_and_engine_warnings_pass_through():
    w = summarize(make_run(partial=True, warnings=["clock skew"])).warnings
    assert w[0] == "clock skew"
    assert "partial" in w[1] and "45s of 60s" in w[1]


def test_warns_when_the_run_ends_too_soon_after_a_fault():
    run = make_run()
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 29.0)]  # tail from 59: 1 interval
    s = summarize(run)
    (warning,) = s.warnings
    assert warning.startswith("secretsmanager: the run ended too soon after the last fault")
    assert "not measured" in warning
    assert math.isnan(s.metrics["dependencies.secretsmanager.metastable"])
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 28.0)]  # tail from 58: 2
    s = summarize(run)
    assert s.warnings == []
    assert s.metrics["dependencies.secretsmanager.metastable"] == 0.0


def test_a_run_that_settled_early_is_idle_after_its_end_not_too_short():
    # The sim engine stops once every boot is done: after that nothing calls the dependency,
    # so a fault that ended shortly before is not "too soon to judge".
    run = make_run()
    run.meta.sim_end = 45.0  # < horizon 60, not partial: settled
    run.dependencies["secretsmanager"].counts["offered"][:] = 0
    for key in ("needed", "served", "throttled"):
        run.dependencies["secretsmanager"].counts[key][:] = 0
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 40.0)]
    s = summarize(run)
    assert s.warnings == []
    assert s.metrics["dependencies.secretsmanager.metastable"] == 0.0
    # A fault still on when the run ended is another matter: not measured.
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 600.0)]
    s = summarize(run)
    assert math.isnan(s.metrics["dependencies.secretsmanager.metastable"])
    # An interrupted run did not settle: too soon, and said so.
    run.meta.partial = True
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 40.0)]
    s = summarize(run)
    assert math.isnan(s.metrics["dependencies.secretsmanager.metastable"])
    assert any("ended too soon" in w for w in s.warnings)


def test_metastable_is_unmeasured_when_the_last_fault_outlasted_the_run():
    run = make_run()
    run.scenario["slos"] = ["dependencies.secretsmanager.metastable == false"]
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 60.0)]  # until the horizon
    s = summarize(run)
    assert math.isnan(s.metrics["dependencies.secretsmanager.metastable"])
    assert [(v.verdict, v.passed) for v in s.verdicts] == [("unmeasured", False)]


def test_an_instant_fault_does_not_hold_up_metastability_of_other_dependencies():
    run = make_run()
    # The sim engine records expire_credentials up to the horizon; it acts at one instant.
    run.faults = [FaultWindow("expire_credentials", "instances", 10.0, 60.0)]
    s = summarize(run)
    assert s.warnings == []
    assert s.metrics["dependencies.secretsmanager.metastable"] == 0.0
    assert s.metrics["dependencies.secretsmanager.time_to_drain"] == 10.0  # clean from 20 s


def test_a_fault_after_the_run_ended_never_happened():
    run = make_run(partial=True)  # ended at 45 s
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 15.0),
                  FaultWindow("outage", "secretsmanager", 50.0, 55.0)]
    s = summarize(run)
    assert any("outage on secretsmanager (at 50s) never happened" in w for w in s.warnings)
    # The drain is judged from the fault that did happen.
    assert s.metrics["dependencies.secretsmanager.time_to_drain"] == 5.0


def test_summary_json_round_trip_turns_nan_into_null():
    s = summarize(make_run())
    text = s.to_json()
    data = json.loads(text)  # strict: no NaN tokens
    assert data["metrics"]["config_validation_failures"] == 0
    assert data["metrics"]["agent_start_time.p50"] is None
    assert data["metrics"]["time_to_ready.max"] == "inf"  # never: not the same as not measured
    assert data["metrics"]["secret_exposure_events"] is None  # the sim engine cannot
    assert [v["verdict"] for v in data["verdicts"]] == ["fail", "fail", "fail"]
    assert data["verdicts"][0]["measured"] == "inf"
    assert data["slos_passed"] is False
    back = Summary.from_json(text)
    assert back.verdicts == s.verdicts and back.phases == s.phases
    assert back.outcomes == s.outcomes and back.meta == s.meta
    assert set(back.metrics) == set(s.metrics)
    for key, value in s.metrics.items():
        assert value == back.metrics[key] or (math.isnan(value) and math.isnan(back.metrics[key]))


def test_public_api_is_locked():
    import sim.metrics
    import sim.report

    assert sorted(sim.metrics.__all__) == sorted([
        "Summary", "summarize", "compute_metrics", "validity_warnings", "Verdict",
        "evaluate_slos", "parse_slos", "PASS", "FAIL", "UNMEASURED", "NOT_APPLICABLE", "Phase",
        "phase_breakdown", "attempt_metrics",
        "time_to_ready", "initial_metric_gap", "dependency_metrics", "time_to_drain",
        "is_metastable", "last_fault_end",
    ])
    assert sorted(sim.report.__all__) == sorted([
        "write_report", "report_from_folder", "render_console", "render_openmetrics",
        "render_junit", "render_markdown", "REPORT_FILES",
    ])
    for module in (sim.metrics, sim.report):
        assert all(hasattr(module, name) for name in module.__all__)


def test_drain_uses_the_last_fault_on_that_dependency():
    run = make_run()
    # A later fault elsewhere must not reset secretsmanager's drain clock (its fault ends at 15).
    run.faults.append(FaultWindow("latency", "imds", 30.0, 35.0))
    assert summarize(run).metrics["dependencies.secretsmanager.time_to_drain"] == 5.0
    run.faults = [FaultWindow("partition", "network", 5.0, 12.0)]  # nothing aimed at it
    assert summarize(run).metrics["dependencies.secretsmanager.time_to_drain"] == 8.0


def test_time_slos_are_judged_on_the_scenario_clock():
    # An exec run at time_scale 0.5: every boot took 20 wall seconds = 40 s of the story, so
    # "time_to_ready.p95 <= 30s" fails there, though the raw wall seconds (20) would pass it.
    import dataclasses

    def of_ready(run):  # judge the ready instances: the fleet-wide p95 is inf (one never booted)
        run.scenario["slos"][0] = "time_to_ready_of_ready.p95 <= 30s"
        return run

    run = of_ready(make_run(engine="exec"))
    run.meta = dataclasses.replace(run.meta, time_scale=0.5, isolation="env")
    s = summarize(run)
    assert s.metrics["time_to_ready_of_ready.max"] == 40.0  # the fleet-wide max is inf: one never booted
    assert s.metrics["secret_fetch_latency.max"] == 6.0  # 3 wall seconds
    assert s.metrics["dependencies.secretsmanager.peak_offered_rps"] == 2.5  # 5/s wall = 2.5/s story
    assert s.metrics["dependencies.secretsmanager.throttled_share"] == 0.6  # ratios stay
    assert s.metrics["bootstrap_retries.max"] == 9.0  # counts stay
    assert [v.passed for v in s.verdicts][0] is False
    plain = summarize(of_ready(make_run(engine="exec")))
    assert plain.metrics["time_to_ready_of_ready.max"] == 20.0 and plain.verdicts[0].passed
    assert s.phases and [p.p50 * 2 for p in plain.phases] == [p.p50 for p in s.phases]  # phases too


def test_report_states_time_scale_and_isolation():
    import dataclasses

    from sim.report.markdown import render_markdown

    run = make_run(engine="exec")
    run.meta = dataclasses.replace(run.meta, time_scale=0.1, isolation="netns")
    text = render_markdown(summarize(run), [])
    assert "Time scale 0.1: the scenario's times ran 10x faster" in text
    assert "isolation `netns`" in text
    assert "Time scale" not in render_markdown(summarize(make_run()), [])  # a sim run: nothing
