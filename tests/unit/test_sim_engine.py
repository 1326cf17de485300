"""The SimPy engine against closed forms and the behaviours a scenario promises."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from _sim_helpers import base, simulate


def outcomes(run):
    return Counter(run.attempts.outcome)


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    data = base(fleet={"size": 500, "os_boot": {"kind": "lognormal", "median": "25s", "p99": "45s"}},
                dependencies={"svc": {"service_time": {"kind": "exponential", "mean": "50ms"},
                                      "concurrency": 5}})
    a, b, c = simulate(data), simulate(data), simulate(data, seed=2)
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    c.write(tmp_path / "c")
    assert (tmp_path / "a/attempts.csv").read_bytes() == (tmp_path / "b/attempts.csv").read_bytes()
    assert (tmp_path / "a/dependencies/svc.csv").read_bytes() == (
        tmp_path / "b/dependencies/svc.csv").read_bytes()
    assert (tmp_path / "a/attempts.csv").read_bytes() != (tmp_path / "c/attempts.csv").read_bytes()


@pytest.mark.parametrize(
    "x, n, retry, attempts",
    [
        (0.3, 20000, {"max_attempts": 4}, 4),
        # Past the old cap of 100: at x=0.98, 200 attempts succeed 98.2% of the time, 100 only
        # 86.7%, so a silent cap would fail this.
        (0.98, 3000, {"max_attempts": 200}, 200),
        # Unlimited with a deadline: an attempt fails in 2 ms (a fast error), the next starts
        # 100 ms after the one before; no attempt starts at or after 10.05 s, so 101 fit.
        (0.98, 3000, {"max_attempts": "unlimited", "deadline": "10.05s", "delay": "98ms"}, 101),
    ],
    ids=["4", "200", "unlimited-with-deadline"],
)
def test_retries_match_the_closed_form_for_independent_failures(x, n, retry, attempts):
    """Each attempt fails independently with probability x; with N attempts in all a boot
    succeeds with probability 1 - x^N and makes sum_{i<N} x^i = (1 - x^N)/(1 - x) calls on
    average: a geometric distribution truncated at N (the closed form issue #9 asks for)."""
    data = base(
        fleet={"size": n},
        bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none", "mark": "ready",
                              "retry": {"kind": "fixed", "delay": "10ms", **retry}}]},
        faults=[{"at": 0, "target": "svc", "kind": "error_rate", "rate": x}],
    )
    run = simulate(data)
    ready = outcomes(run)["ready"] / n
    calls = run.attempts.column("calls")
    p_success = 1 - x**attempts
    se_success = math.sqrt(p_success * (1 - p_success) / n)
    assert abs(ready - p_success) < 5 * se_success
    expected_calls = sum(x**i for i in range(attempts))
    # Var of attempts per boot, from the exact distribution of a truncated geometric.
    probs = [x**k * (1 - x) for k in range(attempts - 1)] + [x ** (attempts - 1)]
    var = sum(p * (k + 1) ** 2 for k, p in enumerate(probs)) - expected_calls**2
    assert abs(calls.mean() - expected_calls) < 5 * math.sqrt(var / n)
    assert calls.max() == attempts  # the limit is reached, never passed
    assert set(run.attempts.error_class) <= {"", "InternalError"}


def test_mm1_queue_mean_time_in_system_matches_theory():
    # Poisson arrivals 5/s, one worker, exponential service of mean 0.1 s: W = 1/(mu-lambda) = 0.2 s.
    n = 20000
    data = base(
        fleet={"size": n, "arrival": {"kind": "poisson", "rate": 5}},
        dependencies={"svc": {"concurrency": 1,
                              "service_time": {"kind": "exponential", "mean": "100ms"}}},
        bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none", "timeout": None,
                              "mark": "ready"}]},
        run={"horizon": "3h"},
    )
    run = simulate(data)
    t = run.attempts
    sojourn = t.column("ready_time") - t.column("start")
    assert outcomes(run)["ready"] == n
    # Queueing waits are autocorrelated; 10% is far outside the noise of 20,000 customers.
    assert sojourn.mean() == pytest.approx(0.2, rel=0.10)


def test_quota_throttles_with_the_protocols_error_code():
    for protocol, code in (("json", "ThrottlingException"), ("query", "Throttling"),
                           ("http", "TooManyRequestsException")):
        data = base(
            fleet={"size": 1000},
            dependencies={"svc": {"protocol": protocol,
                                  "operations": {"Get": {"quota": {"rate": 10, "burst": 50}}}}},
        )
        run = simulate(data)
        served = run.dependencies["svc"].counts["served"].sum()
        # A burst of 1000 at t=0 with no retries: the bucket's 50, nothing else.
        assert served == 50
        assert Counter(run.attempts.error_class)[code] == 950
        assert run.dependencies["svc"].counts["throttled"].sum() == 950


def test_quota_refills_at_its_rate_under_retries():
    data = base(
        fleet={"size": 300},
        dependencies={"svc": {"operations": {"Get": {"quota": {"rate": 20, "burst": 20}}}}},
        bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none", "mark": "ready",
                              "retry": {"kind": "fixed", "delay": "200ms", "max_attempts": 100}}]},
    )
    run = simulate(data)
    assert outcomes(run)["ready"] == 300
    served = run.dependencies["svc"].counts["served"]
    # 20 up front, then 20/s: 300 served by about 14 s, never more than 20 + 20/s.
    last = np.nonzero(served)[0].max()
    assert 13 <= last <= 15
    assert served.max() <= 40


def test_partition_times_out_callers_and_hangs_callers_without_timeout():
    fault = [{"at": 0, "for": "10m", "target": "svc", "kind": "partition"}]
    with_timeout = simulate(base(faults=fault))
    assert Counter(with_timeout.attempts.error_class) == {"Timeout": 200}
    assert with_timeout.dependencies["svc"].counts["timed_out"].sum() == 200
    no_timeout = base(
        faults=fault,
        fleet={"health_check_grace": "5m"},
        bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none", "timeout": None,
                              "mark": "ready"}]},
    )
    run = simulate(no_timeout)
    assert outcomes(run) == {"hung": 200}
    assert set(run.attempts.failed_step) == {"get"}
    assert np.allclose(run.attempts.column("end"), 300.0)


def test_outage_deny_and_reset_answer_fast_with_their_errors():
    for kind, code in (("outage", "ServiceUnavailable"), ("deny", "AccessDenied"),
                       ("reset", "ConnectionReset")):
        run = simulate(base(faults=[{"at": 0, "target": "svc.Get", "kind": kind}]))
        assert Counter(run.attempts.error_class) == {code: 200}
        ends = run.attempts.column("end")
        assert ends.max() < 0.1  # fast failures, not timeouts


def test_latency_fault_adds_latency_only_while_it_lasts():
    data = base(fleet={"size": 100, "arrival": {"kind": "ramp", "over": "100s"}},
                faults=[{"at": "50s", "for": "20s", "target": "svc", "kind": "latency",
                         "latency": "300ms"}])
    run = simulate(data)
    t = run.attempts
    took = t.column("ready_time") - t.column("start")
    start = t.column("start")
    inside = (start >= 50) & (start < 69.5)
    assert np.allclose(took[inside], 0.31)
    assert np.allclose(took[(start < 49.5) | (start >= 70)], 0.01)


def test_expired_credentials_fail_unless_refreshed():
    data = base(
        fleet={"size": 50},
        dependencies={
            "imds": {"concurrency": 1000, "service_time": "1ms",
                     "operations": {"PutToken": {}, "GetCredentials": {}}},
            "svc": {"protocol": "json"},
        },
        bootstrap={
            "credentials": {"lifetime": "10m", "refresh": False, "advisory_refresh": "2m",
                            "mandatory_refresh": "1m"},
            "steps": [
                {"name": "token", "call": "imds.PutToken", "provides": "imds_token"},
                {"name": "creds", "call": "imds.GetCredentials", "provides": "credentials",
                 "after": ["token"]},
                {"name": "slow", "work": {"kind": "uniform", "low": "5m", "high": "15m"},
                 "after": ["creds"]},
                {"name": "get", "call": "svc.Get", "after": ["slow"], "mark": "ready",
                 "retry": {"kind": "aws_standard"}},
            ],
        },
    )
    stale = simulate(data)
    t = stale.attempts
    waited = t.column("end") - t.column("start")
    errors = np.array(t.error_class, dtype=object)
    assert set(errors[waited > 600.1]) == {"ExpiredTokenException"}
    assert set(errors[waited < 599.9]) == {""}
    assert (t.column("calls")[errors == "ExpiredTokenException"] == 3).all()  # not retried
    data["bootstrap"]["credentials"]["refresh"] = True
    fresh = simulate(data)
    assert outcomes(fresh) == {"ready": 50}
    # The refresh went through IMDS: more credential calls than boots.
    imds = fresh.dependencies["imds"].counts["served"].sum()
    assert imds > 100


def test_expire_credentials_fault_revokes_what_was_issued_before_it():
    data = base(
        fleet={"size": 100, "arrival": {"kind": "ramp", "over": "100s"}},
        dependencies={
            "imds": {"concurrency": 1000, "service_time": "1ms",
                     "operations": {"GetCredentials": {}}},
            "svc": {"protocol": "json"},
        },
        bootstrap={"credentials": {"refresh": False}, "steps": [
            {"name": "creds", "call": "imds.GetCredentials", "provides": "credentials",
             "needs": "none"},
            {"name": "wait", "work": "30s", "after": ["creds"]},
            {"name": "get", "call": "svc.Get", "after": ["wait"], "mark": "ready"},
        ]},
        faults=[{"at": "50s", "target": "instances", "kind": "expire_credentials"}],
    )
    run = simulate(data)
    t = run.attempts
    start = t.column("start")
    errors = np.array(t.error_class, dtype=object)
    # Issued in [20s, 50s) and used after 50s: revoked. Issued after 50s: fine.
    assert set(errors[(start > 20.5) & (start < 49.5)]) == {"ExpiredTokenException"}
    assert set(errors[(start > 50.5) | (start < 19.5)]) == {""}


def test_replacement_relaunches_failed_instances_with_backoff():
    data = base(
        fleet={"size": 10, "replacement": {"enabled": True, "mode": "replace", "max_attempts": 4,
                                           "backoff": {"base": "10s", "multiplier": 2, "cap": "15s"}}},
        faults=[{"at": 0, "target": "svc", "kind": "deny"}],
    )
    run = simulate(data)
    t = run.attempts
    assert len(t) == 40 and outcomes(run) == {"failed": 40}
    assert sorted(Counter(t.column("instance").tolist()).values()) == [4] * 10
    launches = t.column("launch")[t.column("instance") == 0]
    gaps = np.diff(np.sort(launches))
    assert np.allclose(gaps, [10.002, 15.002, 15.002], atol=1e-6)  # 2 ms fast failure + backoff


def test_crash_loop_restart_skips_the_os_boot():
    data = base(
        fleet={"size": 5, "os_boot": "30s",
               "replacement": {"enabled": True, "mode": "restart", "max_attempts": 3,
                               "backoff": {"base": "1s", "multiplier": 1}}},
        faults=[{"at": 0, "target": "svc", "kind": "outage"}],
    )
    t = simulate(data).attempts
    later = t.column("attempt") > 1
    assert np.allclose(t.column("start")[later], t.column("launch")[later])


def test_continue_after_timeout_decides_whether_abandoned_work_is_done():
    def storm(cont):
        return simulate(base(
            fleet={"size": 400},
            dependencies={"svc": {"concurrency": 2, "service_time": "100ms",
                                  "continue_after_timeout": cont}},
            bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none",
                                  "timeout": "1s", "mark": "ready"}]},
        ))

    kept, dropped = storm(True), storm(False)
    assert kept.dependencies["svc"].counts["wasted"].sum() > 0
    assert dropped.dependencies["svc"].counts["wasted"].sum() == 0
    # Dropping abandoned work frees the workers for callers who still wait.
    assert outcomes(dropped)["ready"] == outcomes(kept)["ready"] == 20


def test_queue_limit_rejects_with_503():
    run = simulate(base(
        fleet={"size": 100},
        dependencies={"svc": {"concurrency": 1, "queue_limit": 9, "service_time": "10ms"}},
    ))
    assert Counter(run.attempts.error_class) == {"": 10, "ServiceUnavailable": 90}
    assert run.dependencies["svc"].counts["rejected"].sum() == 90


def test_conditional_writes_conflict_only_when_writes_overlap():
    def join(concurrency):
        return simulate(base(
            fleet={"size": 200},
            dependencies={"svc": {"concurrency": concurrency, "service_time": "20ms",
                                  "operations": {"Get": {"conditional_write": True}}}},
            bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none",
                                  "timeout": None, "mark": "ready",
                                  "retry": {"kind": "full_jitter", "base": "50ms", "cap": "2s",
                                            "max_attempts": 100}}]},
        ))

    serial, parallel = join(1), join(50)
    assert serial.dependencies["svc"].counts["failed"].sum() == 0
    assert parallel.dependencies["svc"].counts["failed"].sum() > 100
    assert outcomes(parallel) == {"ready": 200}


def test_per_instance_rate_limit_throttles_one_chatty_instance():
    steps = [{"name": f"s{i}", "call": "svc.Get", "needs": "none",
              **({"after": [f"s{i - 1}"]} if i else {})} for i in range(30)]
    steps[-1]["mark"] = "ready"
    data = base(fleet={"size": 1},
                dependencies={"svc": {"per_instance_rate": 10, "service_time": "1ms"}},
                bootstrap={"steps": steps})
    run = simulate(data)
    assert run.attempts.error_class[0] == "TooManyRequestsException"
    assert run.attempts.failed_step[0] == "s10"


def test_steps_after_ready_run_and_show_the_metric_gap():
    data = base(bootstrap={"steps": [
        {"name": "get", "call": "svc.Get", "needs": "none"},
        {"name": "app", "work": "5s", "after": ["get"], "marks": ["app_started", "ready"]},
        {"name": "agent", "work": "20s", "after": ["app"], "mark": "agent_started"},
    ]})
    t = simulate(data).attempts
    assert np.allclose(t.column("ready_time"), 5.01)
    assert np.allclose(t.column("mark_agent_started") - t.column("mark_app_started"), 20.0)
    assert np.allclose(t.column("end"), 25.01)


def test_parallel_steps_overlap_and_the_join_waits_for_the_slowest():
    data = base(bootstrap={"steps": [
        {"name": "a", "work": "3s"},
        {"name": "b", "work": "5s"},
        {"name": "c", "work": "1s", "after": ["a", "b"], "mark": "ready"},
    ]})
    t = simulate(data).attempts
    assert np.allclose(t.column("ready_time"), 6.0)


def test_bootstrap_deadline_fails_a_slow_boot():
    data = base(bootstrap={"deadline": "10s", "steps": [
        {"name": "slow", "work": "1m", "mark": "ready"}]})
    t = simulate(data).attempts
    assert set(t.outcome) == {"failed"}
    assert set(t.error_class) == {"BootstrapDeadlineExceeded"}
    assert set(t.failed_step) == {"slow"}


def test_horizon_leaves_boots_unfinished():
    data = base(run={"horizon": "30s"}, bootstrap={"steps": [
        {"name": "slow", "work": "1m", "mark": "ready"}]})
    run = simulate(data)
    assert outcomes(run) == {"unfinished": 200}
    assert run.meta.sim_end == pytest.approx(30.0)


def test_local_work_failure_probability_is_recorded_as_its_code():
    data = base(fleet={"size": 5000}, bootstrap={"steps": [
        {"name": "validate", "work": "1s", "failure_probability": 0.1,
         "failure_code": "ConfigValidationFailed", "mark": "ready"}]})
    errors = Counter(simulate(data).attempts.error_class)
    assert 400 < errors["ConfigValidationFailed"] < 600


def test_cache_hits_skip_the_call():
    data = base(fleet={"size": 2000}, bootstrap={"steps": [
        {"name": "get", "call": "svc.Get", "needs": "none", "mark": "ready",
         "cache": {"hit_ratio": 0.75, "hit_time": "1ms"}}]},
        dependencies={"svc": {"operations": {"Get": {"bytes": 1000}}}})
    run = simulate(data)
    offered = run.dependencies["svc"].counts["offered"].sum()
    assert 400 < offered < 600
    assert run.dependencies["svc"].counts["bytes"].sum() == offered * 1000


def test_circuit_breaker_and_deadline_give_up_reasons_are_recorded():
    data = base(
        fleet={"size": 20},
        bootstrap={"steps": [{"name": "get", "call": "svc.Get", "needs": "none", "mark": "ready",
                              "retry": {"kind": "fixed", "delay": "1s", "max_attempts": 50,
                                        "deadline": "5s"}}]},
        faults=[{"at": 0, "target": "svc", "kind": "outage"}],
    )
    t = simulate(data).attempts
    assert set(t.error_class) == {"ServiceUnavailable"}
    assert (t.column("end") <= 5.0 + 1e-9).all()
    assert (t.column("calls") == 5).all()
