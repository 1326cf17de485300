"""Circuit breaker: opens after failures, half-opens after the open period, closes on probes."""

from __future__ import annotations

import random

import pytest

from sim.policies import GIVE_UP, CircuitBreaker, RetryPolicy, classify
from sim.policies.breaker import CLOSED, HALF_OPEN, OPEN

SERVER = classify(None, 503)
DENIED = classify("AccessDenied", 403)


def fail(breaker, now, times=1):
    for _ in range(times):
        assert breaker.allow(now)
        breaker.record(now, True, breaker.epoch)


def test_opens_after_threshold_half_opens_then_closes_on_a_probe():
    breaker = CircuitBreaker(failure_threshold=3, open_for=10.0)
    fail(breaker, 0.0, 2)
    assert breaker.state == CLOSED
    fail(breaker, 1.0)
    assert breaker.state == OPEN and breaker.times_opened == 1
    assert not breaker.allow(5.0) and not breaker.allow(10.999)
    assert breaker.allow(11.0) and breaker.state == HALF_OPEN  # one probe goes through
    epoch = breaker.epoch
    assert not breaker.allow(11.5)  # a second concurrent probe does not
    breaker.record(12.0, False, epoch)
    assert breaker.state == CLOSED and breaker.allow(12.0)


def test_failed_probe_opens_again_for_a_full_period():
    breaker = CircuitBreaker(failure_threshold=1, open_for=10.0)
    fail(breaker, 0.0)
    assert breaker.allow(10.0)
    breaker.record(10.5, True, breaker.epoch)
    assert breaker.state == OPEN and breaker.opened_at == 10.5 and breaker.times_opened == 2
    assert not breaker.allow(20.0) and breaker.allow(20.5)


def test_success_resets_the_consecutive_count():
    breaker = CircuitBreaker(failure_threshold=3)
    for _ in range(10):
        fail(breaker, 0.0, 2)
        breaker.record(0.0, False, breaker.epoch)
    assert breaker.state == CLOSED


def test_failure_rate_window():
    breaker = CircuitBreaker(failure_threshold=None, failure_rate=0.5, window=10, min_calls=10)
    for i in range(9):  # 4 failures, 5 successes: below min_calls anyway
        breaker.record(0.0, i % 2 == 0 and i < 8, breaker.epoch)
    assert breaker.state == CLOSED
    breaker.record(0.0, True, breaker.epoch)  # 10 calls, 5 failures: 50%
    assert breaker.state == OPEN


def test_failure_rate_forgets_old_outcomes():
    breaker = CircuitBreaker(failure_threshold=None, failure_rate=0.5, window=4, min_calls=4)
    for failed in (True, False, False, False, False, True, False, False, False, True):
        breaker.record(0.0, failed, breaker.epoch)
    assert breaker.state == CLOSED  # never 2 failures among the last 4, 3 in all
    breaker.record(0.0, True, breaker.epoch)
    assert breaker.state == OPEN  # now 2 of the last 4


def test_stale_results_are_not_taken_for_probes():
    breaker = CircuitBreaker(failure_threshold=1, open_for=1.0)
    assert breaker.allow(0.0)
    old_epoch = breaker.epoch
    fail(breaker, 0.0)  # another attempt trips the breaker
    assert breaker.allow(2.0) and breaker.state == HALF_OPEN
    breaker.record(2.1, True, old_epoch)  # the slow first attempt finally fails
    assert breaker.state == HALF_OPEN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": None, "failure_rate": None},
        {"failure_threshold": 0},
        {"failure_rate": 1.5},
        {"window": 5, "min_calls": 6, "failure_rate": 0.5},
        {"half_open_probes": 0},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="got"):
        CircuitBreaker(**kwargs)


def test_breaker_through_the_controller():
    spec = {
        "kind": "fixed",
        "delay": "1s",
        "max_attempts": 5,
        "circuit_breaker": {"failure_threshold": 3, "open_for": "10s"},
    }
    policy = RetryPolicy.from_spec(spec)
    client, rng = policy.new_client(), random.Random(0)
    call = policy.begin(client, 0.0)
    now = 0.0
    for _ in range(2):
        assert call.before_attempt(now) == 0.0
        now += call.on_failure(now, SERVER, rng)
    assert call.before_attempt(now) == 0.0
    # Third failure in a row trips the breaker: no retry, and other calls are refused.
    assert call.on_failure(now, SERVER, rng) is GIVE_UP["circuit_open"]
    other = policy.begin(client, now + 1)
    assert other.before_attempt(now + 1) is GIVE_UP["circuit_open"] and other.attempts == 0
    probe = policy.begin(client, now + 10)
    assert probe.before_attempt(now + 10) == 0.0 and client.breaker.state == HALF_OPEN
    probe.on_success(now + 10.2)
    assert client.breaker.state == CLOSED


def test_client_errors_do_not_trip_the_breaker():
    policy = RetryPolicy.from_spec({"kind": "none", "circuit_breaker": {"failure_threshold": 2}})
    client, rng = policy.new_client(), random.Random(0)
    for i in range(10):
        call = policy.begin(client, float(i))
        assert call.before_attempt(float(i)) == 0.0
        assert call.on_failure(float(i), DENIED, rng) is GIVE_UP["not_retryable"]
    assert client.breaker.state == CLOSED
