"""The composed controller: attempt counts, AWS modes, quota, budget, deadline."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from sim.policies import GIVE_UP, GiveUp, RetryPolicy, classify

THROTTLE = classify("ThrottlingException", 400)
SERVER = classify(None, 503)
TIMEOUT = classify(timeout=True)
DENIED = classify("AccessDenied", 403)


def run_call(policy, client, now, outcomes, rng, attempt_time=0.0):
    """Drive one call; ``outcomes`` yields None (success) or an ErrorClass per attempt.
    Returns (call, end time, attempt start times)."""
    call = policy.begin(client, now)
    starts = []
    while True:
        wait = call.before_attempt(now)
        if isinstance(wait, GiveUp):
            return call, now, starts
        now += wait
        starts.append(now)
        now += attempt_time
        error = next(outcomes)
        if error is None:
            call.on_success(now)
            return call, now, starts
        delay = call.on_failure(now, error, rng)
        if isinstance(delay, GiveUp):
            return call, now, starts
        now += delay


def test_expected_calls_exact_enumeration():
    """3 retries, independent failure probability x: E[calls] = 1+x+x^2+x^3, P(ok) = 1-x^4."""
    policy = RetryPolicy.from_spec({"kind": "fixed", "delay": 0, "max_attempts": 4})
    rng = random.Random(0)
    for x in (0.0, 0.1, 0.5, 0.9, 1.0):
        expected_calls = success = 0.0
        for pattern in itertools.product((False, True), repeat=4):  # True: that attempt fails
            p = math.prod(x if failed else 1 - x for failed in pattern)
            outcomes = iter(SERVER if failed else None for failed in pattern)
            call, _, _ = run_call(policy, policy.new_client(), 0.0, outcomes, rng)
            expected_calls += p * call.attempts
            success += p * (call.outcome == "success")
            assert call.attempts == call.retries + 1
        assert expected_calls == pytest.approx(1 + x + x**2 + x**3, abs=1e-12)
        assert success == pytest.approx(1 - x**4, abs=1e-12)


def test_expected_calls_monte_carlo():
    x, n = 0.3, 20_000
    policy = RetryPolicy.from_spec({"kind": "full_jitter", "max_attempts": 4})
    rng, faults = random.Random(1234), random.Random(99)
    client = policy.new_client()
    attempts = successes = 0
    for _ in range(n):
        outcomes = iter(lambda: SERVER if faults.random() < x else None, object())
        call, _, _ = run_call(policy, client, 0.0, outcomes, rng)
        attempts += call.attempts
        successes += call.outcome == "success"
    mean_calls = 1 + x + x**2 + x**3
    # Var(calls) from the distribution P(k) = x^(k-1)(1-x) for k < 4, P(4) = x^3; five standard
    # errors leaves a false alarm probability below 1e-6 for any seed.
    second = sum(k * k * x ** (k - 1) * (1 - x) for k in (1, 2, 3)) + 16 * x**3
    se_calls = math.sqrt((second - mean_calls**2) / n)
    assert abs(attempts / n - mean_calls) < 5 * se_calls
    p = 1 - x**4
    assert abs(successes / n - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(
    "kind,attempts", [("aws_legacy", 5), ("aws_standard", 3), ("aws_adaptive", 3), ("none", 1)]
)
def test_default_max_attempts(kind, attempts):
    policy = RetryPolicy.from_spec({"kind": kind})
    call, _, _ = run_call(
        policy, policy.new_client(), 0.0, itertools.repeat(SERVER), random.Random(0)
    )
    assert call.attempts == attempts and call.retries == attempts - 1
    assert call.outcome == "max_attempts"


def test_legacy_delays_are_rand_times_power_of_two_uncapped():
    policy = RetryPolicy.from_spec({"kind": "aws_legacy", "max_attempts": 10})
    rng = random.Random(8)
    for _ in range(200):
        call, _, starts = run_call(policy, policy.new_client(), 0.0, itertools.repeat(SERVER), rng)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert all(0 <= g <= 2**n for n, g in enumerate(gaps))
    assert max(gaps) > 20  # no 20 s cap in legacy mode (2^8 = 256 s ceiling for the last gap)


def test_legacy_uses_legacy_classification():
    legacy = RetryPolicy.from_spec({"kind": "aws_legacy"})
    standard = RetryPolicy.from_spec({"kind": "aws_standard"})
    for policy, error, retried in [
        (legacy, classify(None, 502), False),
        (standard, classify(None, 502), True),
        (legacy, classify(None, 429), True),
        (standard, classify(None, 429), False),
    ]:
        call = policy.begin(policy.new_client(), 0.0)
        call.before_attempt(0.0)
        decision = call.on_failure(0.0, error, random.Random(0))
        assert isinstance(decision, float) is retried, (policy.kind, error)


def test_not_retryable_gives_up_at_once():
    policy = RetryPolicy.from_spec({"kind": "aws_standard"})
    call = policy.begin(policy.new_client(), 0.0)
    call.before_attempt(0.0)
    assert call.on_failure(0.0, DENIED, random.Random(0)) is GIVE_UP["not_retryable"]
    assert call.outcome == "not_retryable" and call.retries == 0


@pytest.mark.parametrize("error,retries", [(THROTTLE, 100), (SERVER, 100), (TIMEOUT, 50)])
def test_standard_quota_in_total_outage(error, retries):
    """500 tokens at cost 5 (10 after a timeout) buy exactly 100 (50) retries."""
    policy = RetryPolicy.from_spec({"kind": "aws_standard"})
    client, rng = policy.new_client(), random.Random(0)
    total, reasons = 0, []
    for _ in range(200):
        call, _, _ = run_call(policy, client, 0.0, itertools.repeat(error), rng)
        total += call.retries
        reasons.append(call.outcome)
    assert total == retries
    assert client.quota.available == 0
    assert reasons[-1] == "retry_quota_exhausted"
    assert reasons.count("max_attempts") == retries // 2  # 2 retries per call while it lasted


def test_quota_refunds_on_success():
    policy = RetryPolicy.from_spec({"kind": "aws_standard"})
    client, rng = policy.new_client(), random.Random(0)
    quota = client.quota
    run_call(policy, client, 0.0, iter([TIMEOUT, None]), rng)  # takes 10, gives back 10
    assert quota.available == 500
    run_call(policy, client, 0.0, iter([SERVER, SERVER, SERVER]), rng)  # takes 10, keeps it
    assert quota.available == 490
    run_call(policy, client, 0.0, iter([None]), rng)  # first-attempt success refunds 1
    assert quota.available == 491
    for _ in range(20):
        run_call(policy, client, 0.0, iter([None]), rng)
    assert quota.available == 500  # never above capacity


def test_budget_caps_retries_near_ten_percent_under_total_failure():
    policy = RetryPolicy.from_spec(
        {
            "kind": "fixed",
            "delay": 0.01,
            "max_attempts": 10,
            "budget": {"ratio": 0.1, "min_per_second": 0},
        }
    )
    client, rng = policy.new_client(), random.Random(0)
    requests, retries, now = 5000, 0, 0.0
    for _ in range(requests):
        call, now, _ = run_call(policy, client, now, itertools.repeat(SERVER), rng)
        retries += call.retries
        now += 0.1
    # 0.1 tokens per request, one per retry: at most 10% plus what one request's deposit adds.
    assert requests * 0.1 - 1 <= retries <= requests * 0.1 + 1
    # Without the budget the same outage makes nine retries per request.
    no_budget = RetryPolicy.from_spec({"kind": "fixed", "delay": 0.01, "max_attempts": 10})
    call, _, _ = run_call(no_budget, no_budget.new_client(), 0.0, itertools.repeat(SERVER), rng)
    assert call.retries == 9


def test_budget_minimum_rate_lets_a_quiet_client_retry():
    spec = {
        "kind": "fixed",
        "delay": 0,
        "max_attempts": 2,
        "budget": {"ratio": 0.1, "min_per_second": 1},
    }
    policy = RetryPolicy.from_spec(spec)
    client, rng = policy.new_client(), random.Random(0)
    outcomes = []
    for now in (0.0, 0.1, 0.2, 1.5, 3.0):
        call, _, _ = run_call(policy, client, now, itertools.repeat(SERVER), rng)
        outcomes.append(call.outcome)
    # One retry per second at most: the second and third calls within a second are refused.
    assert outcomes == [
        "max_attempts",
        "budget_exhausted",
        "budget_exhausted",
        "max_attempts",
        "max_attempts",
    ]


@pytest.mark.parametrize(
    "kind", ["fixed", "exponential", "full_jitter", "decorrelated_jitter", "aws_legacy", "grpc"]
)
def test_deadline_is_never_passed(kind):
    spec = {"kind": kind, "max_attempts": 50, "deadline": "7s"}
    policy = RetryPolicy.from_spec(spec)
    rng = random.Random(4)
    for trial in range(200):
        start = trial * 100.0
        call, end, starts = run_call(
            policy, policy.new_client(), start, itertools.repeat(SERVER), rng, 0.05
        )
        assert call.outcome == "deadline"
        assert all(s < start + 7.0 for s in starts)
        assert call.remaining(end) >= -0.05 - 1e-9  # only the last attempt itself may run over


@pytest.mark.parametrize("error,retries", [(THROTTLE, 100), (SERVER, 35), (TIMEOUT, 35)])
def test_new_retries_2026_costs(error, retries):
    """botocore's opt-in 2026 mode: throttles cost 5, anything else 14 (500 // 14 = 35)."""
    policy = RetryPolicy.from_spec({"kind": "aws_standard", "new_retries_2026": True})
    client, rng = policy.new_client(), random.Random(0)
    total = sum(
        run_call(policy, client, 0.0, itertools.repeat(error), rng)[0].retries for _ in range(200)
    )
    assert total == retries


def test_new_retries_2026_backs_off_less_for_non_throttles():
    policy = RetryPolicy.from_spec(
        {"kind": "aws_standard", "new_retries_2026": True, "max_attempts": 8}
    )
    rng = random.Random(6)
    longest = {THROTTLE: 0.0, SERVER: 0.0}
    for error in longest:
        for _ in range(300):
            _, _, starts = run_call(policy, policy.new_client(), 0.0, itertools.repeat(error), rng)
            scale = 1.0 if error is THROTTLE else 0.05
            gaps = [b - a for a, b in zip(starts, starts[1:])]
            assert all(g <= min(scale * 2**n, 20.0) for n, g in enumerate(gaps))
            longest[error] = max(longest[error], *gaps)
    assert longest[SERVER] <= 0.05 * 2**6 < 10.0 < longest[THROTTLE]


def test_custom_retry_cost_applies_to_throttles_too_in_default_mode():
    policy = RetryPolicy.from_spec({"kind": "aws_standard", "retry_cost": 50})
    client, rng = policy.new_client(), random.Random(0)
    total = sum(
        run_call(policy, client, 0.0, itertools.repeat(THROTTLE), rng)[0].retries for _ in range(20)
    )
    assert total == 10
