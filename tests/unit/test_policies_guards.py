"""Retry guards with an initial fill: gRPC retry throttling, the AWS retry quota, the retry
budget, and a circuit breaker that blocks only retries, against the numbers of the documents
and SDKs they follow."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from _scenario_fixtures import base, dump, line_of, write
from sim.policies import CircuitBreaker, GiveUp, RetryPolicy, RetryThrottle, classify
from sim.policies.spec import retry_spec_adapter

SERVER = classify(None, 503)
DENIED = classify("AccessDenied", 403)


def failing_call(policy, client, now, rng):
    """One call whose every attempt fails with a 503; returns (attempts, give-up reason)."""
    call = policy.begin(client, now)
    while True:
        wait = call.before_attempt(now)
        if isinstance(wait, GiveUp):
            return call.attempts, wait.reason
        delay = call.on_failure(now, SERVER, rng)
        if isinstance(delay, GiveUp):
            return call.attempts, delay.reason
        now += delay


def succeeding_call(policy, client, now):
    call = policy.begin(client, now)
    call.before_attempt(now)
    call.on_success(now)


def test_grpc_retry_throttling_token_arithmetic_of_grfc_a6():
    """gRFC A6 "Throttling Retry Attempts and Hedged RPCs" (grpc/proposal A6-client-retries.md),
    its example `retryThrottling: {maxTokens: 10, tokenRatio: 0.1}`: token_count starts at
    maxTokens, a failed RPC takes 1, a successful one gives tokenRatio, and RPCs are retried
    only while token_count > maxTokens / 2."""
    t = RetryThrottle(10, 0.1)
    assert t.tokens == 10 and t.threshold == 5
    for expected in (9, 8, 7, 6):
        t.on_failure()
        assert t.tokens == expected and t.retry_allowed()
    t.on_failure()
    assert t.tokens == 5 and not t.retry_allowed()  # "less than or equal to the threshold"
    t.on_success()
    assert t.tokens == pytest.approx(5.1) and t.retry_allowed()
    for _ in range(20):
        t.on_failure()
    assert t.tokens == 0  # "can take values between 0 and maxTokens"
    for _ in range(200):
        t.on_success()
    assert t.tokens == 10
    assert RetryThrottle(10, 0.1, initial=0).retry_allowed() is False


def test_grpc_throttling_stops_retries_near_its_steady_state_failure_share():
    """With failures at share f of attempts the tokens drift by (1-f)*ratio - f per attempt,
    so they settle above the threshold only while f < ratio / (1 + ratio) (9.1% at 0.1)."""
    rng = random.Random(7)
    for f, expect_retries in ((0.05, True), (0.2, False)):
        t = RetryThrottle(10, 0.1)
        allowed = 0
        for i in range(20000):
            t.on_failure() if rng.random() < f else t.on_success()
            allowed += i > 10000 and t.retry_allowed()
        share = allowed / 9999
        assert (share > 0.9) if expect_retries else (share < 0.1)


def test_retry_throttling_through_the_policy_and_its_initial_fill():
    """A fully failing dependency: a client that starts full (gRPC) gets retries until 5
    failed attempts have taken it to the threshold; one that starts empty gets none."""
    rng = random.Random(1)
    spec = {"kind": "fixed", "delay": 0, "max_attempts": 100, "retry_throttling": {}}
    policy = RetryPolicy.from_spec(spec)
    client = policy.new_client()
    assert failing_call(policy, client, 0.0, rng) == (5, "retry_throttled")
    assert failing_call(policy, client, 1.0, rng) == (1, "retry_throttled")  # first attempts go
    empty = RetryPolicy.from_spec({**spec, "retry_throttling": {"initial_tokens": 0}})
    assert failing_call(empty, empty.new_client(), 0.0, rng) == (1, "retry_throttled")
    # A 403 is not a server failure: A6 does not count it.
    client = policy.new_client()
    call = policy.begin(client, 0.0)
    call.before_attempt(0.0)
    assert call.on_failure(0.0, DENIED, rng).reason == "not_retryable"
    assert client.throttle.tokens == 10


def test_aws_retry_quota_initial_fill():
    """botocore retries/quota.py: RetryQuota(INITIAL_CAPACITY=500) starts full; standard.py
    takes RETRY_COST=5 per retry and gives back NO_RETRY_INCREMENT=1 per call that succeeds
    at once (the same constants in every AWS SDK: smithy util-retry INITIAL_RETRY_TOKENS=500,
    RETRY_COST=5, TIMEOUT_RETRY_COST=10, NO_RETRY_INCREMENT=1). Starting it empty, as a
    what-if, a client needs 5 first-try successes to earn one retry."""
    rng = random.Random(1)
    full = RetryPolicy.from_spec({"kind": "aws_standard", "max_attempts": 1000})
    assert failing_call(full, full.new_client(), 0.0, rng) == (101, "retry_quota_exhausted")
    empty = RetryPolicy.from_spec(
        {"kind": "aws_standard", "max_attempts": 1000, "retry_quota_initial": 0}
    )
    client = empty.new_client()
    assert failing_call(empty, client, 0.0, rng) == (1, "retry_quota_exhausted")
    for i in range(5):
        succeeding_call(empty, client, 1.0 + i)
    assert client.quota.available == 5
    assert failing_call(empty, client, 10.0, rng) == (2, "retry_quota_exhausted")


def test_retry_budget_initial_fill():
    """The SRE book's per-client budget earns ratio tokens per request and starts empty; with
    `initial_tokens: full` a new client may spend max_tokens retries at once."""
    rng = random.Random(1)
    spec = {"kind": "fixed", "delay": 0, "max_attempts": 100,
            "budget": {"ratio": 0.1, "min_per_second": 0, "max_tokens": 10}}
    empty = RetryPolicy.from_spec(spec)
    # The call's own deposit (0.1) does not buy a retry.
    assert failing_call(empty, empty.new_client(), 0.0, rng) == (1, "budget_exhausted")
    full = RetryPolicy.from_spec({**spec, "budget": {**spec["budget"], "initial_tokens": "full"}})
    assert failing_call(full, full.new_client(), 0.0, rng) == (11, "budget_exhausted")
    half = RetryPolicy.from_spec({**spec, "budget": {**spec["budget"], "initial_tokens": 4}})
    assert failing_call(half, half.new_client(), 0.0, rng) == (5, "budget_exhausted")


def test_initial_fill_beyond_the_bucket_is_refused():
    adapter = retry_spec_adapter()
    with pytest.raises(ValueError, match="initial_tokens between 0 and max_tokens"):
        adapter.validate_python({"kind": "fixed", "budget": {"initial_tokens": 11}})
    with pytest.raises(ValueError, match="retry_quota_initial <= retry_quota"):
        adapter.validate_python({"kind": "aws_standard", "retry_quota_initial": 501})


def test_breaker_that_blocks_retries_lets_every_first_attempt_through():
    """`blocks: retries`: like Envoy's max_retries circuit breaker (and gRPC throttling), an
    open breaker refuses retries, never a first attempt; `blocks: all` refuses both."""
    rng = random.Random(1)
    breaker = {"failure_threshold": 3, "open_for": 30}
    spec = {"kind": "fixed", "delay": 0, "max_attempts": 10}
    only = RetryPolicy.from_spec({**spec, "circuit_breaker": {**breaker, "blocks": "retries"}})
    every = RetryPolicy.from_spec({**spec, "circuit_breaker": breaker})
    a, b = only.new_client(), every.new_client()
    assert failing_call(only, a, 0.0, rng) == (3, "circuit_open")
    assert failing_call(every, b, 0.0, rng) == (3, "circuit_open")
    # While open: a first attempt goes out (and fails) with `retries`, none with `all`.
    assert failing_call(only, a, 1.0, rng) == (1, "circuit_open")
    assert failing_call(every, b, 1.0, rng) == (0, "circuit_open")
    # After open_for, a retry is the half-open probe; its success closes the breaker.
    call = only.begin(a, 40.0)
    assert call.before_attempt(40.0) == 0.0  # first attempt, not a probe
    assert call.on_failure(40.0, SERVER, rng) == 0.0  # a retry may probe
    assert call.before_attempt(40.0) == 0.0
    call.on_success(40.0)
    assert a.breaker.state_name == "closed"


def test_breaker_blocks_must_be_all_or_retries():
    with pytest.raises(ValueError, match="'all' or 'retries'"):
        CircuitBreaker(blocks="first")


@pytest.mark.parametrize("guard, initial, given", [("budget", 11, "11.0"), ("retry_throttling", -1, "-1.0")])
def test_a_bad_initial_fill_of_either_guard_is_a_clear_cli_error(tmp_path, guard, initial, given):
    """The retry budget and gRPC retry throttling share one initial-fill check: through the real
    command either one names the file, its line, the field path, what was expected and what was
    given, and exits 2 without a traceback."""
    data = base()
    data["bootstrap"]["steps"][1]["retry"][guard] = {"max_tokens": 10, "initial_tokens": initial}
    path = write(tmp_path, dump(data), "guards.yaml")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=root)
    line = line_of(dump(data), f"{guard}:")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"error: {path}: invalid scenario (1 problem)",
        f"  {path}:{line}: bootstrap.steps.1.retry.{guard}: expected initial_tokens between 0 and max_tokens "
        f"(10) or `full`, got {given}",
    ]
    assert "Traceback" not in proc.stderr
