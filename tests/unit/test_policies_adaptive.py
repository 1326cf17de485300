"""AWS adaptive mode: the client-side rate limiter slows down on throttles and recovers."""

from __future__ import annotations

import collections
import itertools
import random

import pytest

from sim.policies import AdaptiveRateLimiter, GiveUp, RetryPolicy, classify

THROTTLE = classify("ThrottlingException", 400)
SERVER = classify(None, 500)


def sends_per_second(limiter, throttled_between, until=40.0, gap=0.05):
    """A client that wants to send every ``gap`` seconds, as fast as the limiter allows."""
    now, sent = 0.0, []
    while now < until:
        now += limiter.acquire(now)
        sent.append(now)
        limiter.on_response(now, throttled_between[0] <= now < throttled_between[1])
        now += gap
    counts = collections.Counter(int(t) for t in sent)
    return [counts[i] for i in range(int(until))]


def test_off_until_the_first_throttle():
    limiter = AdaptiveRateLimiter()
    for i in range(100):
        assert limiter.acquire(i * 0.01) == 0.0
        limiter.on_response(i * 0.01, False)
    assert not limiter.enabled


def test_slows_after_throttles_and_recovers_after_successes():
    limiter = AdaptiveRateLimiter()
    per_second = sends_per_second(limiter, (5.0, 8.0))
    assert all(n >= 19 for n in per_second[:5])  # unthrottled: the client's own 20/s
    assert max(per_second[6:9]) <= 3  # throttled: down towards the 0.5/s floor
    assert sum(per_second[6:9]) < 0.1 * 3 * 20
    recovered = next(i for i in range(9, 40) if per_second[i] >= 19)
    assert recovered <= 15, per_second  # CUBIC climbs back within seconds
    assert all(n >= 19 for n in per_second[recovered:])


def test_throttle_cuts_rate_to_seventy_percent_of_measured():
    limiter = AdaptiveRateLimiter()
    now = 0.0
    for _ in range(200):  # a steady 10/s for 20 s so the smoothed measured rate settles
        limiter.on_response(now, False)
        now += 0.1
    measured = limiter.measured_rate
    assert measured == pytest.approx(10.0, rel=0.05)
    limiter.on_response(now, True)
    assert limiter.enabled
    assert limiter.send_rate == pytest.approx(0.7 * limiter.measured_rate, rel=1e-9)


def test_cubic_returns_to_the_old_rate_after_k_seconds():
    limiter = AdaptiveRateLimiter()
    now = 0.0
    for _ in range(200):
        limiter.on_response(now, False)
        now += 0.1
    limiter.on_response(now, True)
    w_max = limiter._w_max
    k = (w_max * 0.3 / 0.4) ** (1 / 3)
    # Responses keep coming at 10/s, so the 2x-measured bound (~20/s) stays out of the way;
    # the one exactly K seconds after the throttle puts the rate back at W_max.
    t = now + 0.1
    while t < now + k:
        limiter.on_response(t, False)
        assert limiter.send_rate < w_max
        t += 0.1
    limiter.on_response(now + k, False)
    assert limiter.send_rate == pytest.approx(w_max, rel=1e-6)


def test_waits_queue_in_order():
    limiter = AdaptiveRateLimiter()
    limiter.on_response(0.0, True)  # measured 0: the rate falls to the 0.5/s floor
    assert limiter.send_rate == 0.5
    # One second at 0.5/s earned half a token: the first caller waits 1 s for the other half,
    # the next ones queue behind it, one token (2 s) apart.
    waits = [limiter.acquire(1.0) for _ in range(3)]
    assert waits == pytest.approx([1.0, 3.0, 5.0], abs=1e-9)


def test_adaptive_policy_through_the_controller():
    policy = RetryPolicy.from_spec({"kind": "aws_adaptive", "deadline": "30s"})
    client, rng = policy.new_client(), random.Random(0)
    call = policy.begin(client, 0.0)
    assert call.before_attempt(0.0) == 0.0
    delay = call.on_failure(0.0, THROTTLE, rng)
    assert isinstance(delay, float) and client.limiter.enabled
    wait = call.before_attempt(delay)
    assert wait > 0.0  # the limiter now makes the retry wait for a token
    assert client.quota.available == 495  # standard-mode quota still applies
    # A non-throttling failure counts as a 'success' for the rate, as in botocore.
    call.on_failure(delay + wait, SERVER, rng)
    assert call.attempts == 2


def test_adaptive_refuses_when_the_wait_passes_the_deadline():
    policy = RetryPolicy.from_spec({"kind": "aws_adaptive", "deadline": "1s", "max_attempts": 10})
    client, rng = policy.new_client(), random.Random(0)
    call = policy.begin(client, 0.0)
    outcome = None
    now = 0.0
    for _ in itertools.count():
        wait = call.before_attempt(now)
        if isinstance(wait, GiveUp):
            outcome = wait.reason
            break
        now += wait
        assert now < 1.0
        delay = call.on_failure(now, THROTTLE, rng)
        if isinstance(delay, GiveUp):
            outcome = delay.reason
            break
        now += delay
    assert outcome == "deadline"
