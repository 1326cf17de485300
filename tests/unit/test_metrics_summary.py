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
                           False, "duration")
    assert v[1].passed and v[1].threshold == 0.999 and v[1].kind == "ratio"


def test_nan_or_missing_measurement_fails():
    v = evaluate_slos(slos("time_to_ready.p99 <= 10m", "dependencies.sts.metastable == false"),
                      {"time_to_ready.p99": math.nan})
    assert [x.passed for x in v] == [False, False]
    assert math.isnan(v[0].measured) and math.isnan(v[1].measured)


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
    assert s.metrics["time_to_ready.max"] == 20.0
    assert s.metrics["dependencies.secretsmanager.throttled_share"] == 0.6
    assert s.metrics["dependencies.secretsmanager.time_to_drain"] == 5.0  # clean from 20 s
    assert [v.passed for v in s.verdicts] == [True, False, False]
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
    (warning,) = summarize(run).warnings
    assert warning.startswith("secretsmanager: the run ended too soon after the last fault")
    run.faults = [FaultWindow("throttle", "secretsmanager", 5.0, 28.0)]  # tail from 58: 2
    assert summarize(run).warnings == []


def test_summary_json_round_trip_turns_nan_into_null():
    s = summarize(make_run())
    text = s.to_json()
    data = json.loads(text)  # strict: no NaN tokens
    assert data["metrics"]["config_validation_failures"] == 0
    assert data["metrics"]["agent_start_time.p50"] is None
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
        "evaluate_slos", "parse_slos", "Phase", "phase_breakdown", "attempt_metrics",
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

    run = make_run(engine="exec")
    run.meta = dataclasses.replace(run.meta, time_scale=0.5, isolation="env")
    s = summarize(run)
    assert s.metrics["time_to_ready.max"] == 40.0
    assert s.metrics["secret_fetch_latency.max"] == 6.0  # 3 wall seconds
    assert s.metrics["dependencies.secretsmanager.peak_offered_rps"] == 2.5  # 5/s wall = 2.5/s story
    assert s.metrics["dependencies.secretsmanager.throttled_share"] == 0.6  # ratios stay
    assert s.metrics["bootstrap_retries.max"] == 9.0  # counts stay
    assert [v.passed for v in s.verdicts][0] is False
    plain = summarize(make_run(engine="exec"))
    assert plain.metrics["time_to_ready.max"] == 20.0 and plain.verdicts[0].passed
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
