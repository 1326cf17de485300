"""Backoff schedules against their closed forms (AWS blog formulas, gRPC connection backoff)."""

from __future__ import annotations

import random

import pytest

from sim.policies import (
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
    GrpcBackoff,
    NoBackoff,
    RetryPolicy,
    classify,
)

SERVER_ERROR = classify(status=500)


def test_exponential_is_capped_doubling():
    backoff = ExponentialBackoff(0.1, 2.0, 5.0)
    rng = random.Random(0)
    got = [backoff.delay(n, 0.0, rng) for n in range(10)]
    assert got == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0])
    assert backoff.delay(10_000, 0.0, rng) == 5.0  # no OverflowError far past the cap


def test_exponential_with_other_multiplier():
    backoff = ExponentialBackoff(1.0, 3.0, 100.0)
    assert [backoff.delay(n, 0.0, random.Random()) for n in range(6)] == [1, 3, 9, 27, 81, 100]


def test_fixed_and_none():
    assert FixedBackoff(0.25).delay(7, 3.0, random.Random()) == 0.25
    assert NoBackoff().delay(3, 1.0, random.Random()) == 0.0


@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_full_jitter_is_uniform_below_the_ceiling(n):
    backoff = FullJitterBackoff(1.0, 2.0, 20.0)
    ceiling = min(20.0, 2.0**n)
    rng = random.Random(n)
    samples = [backoff.delay(n, 0.0, rng) for _ in range(20_000)]
    assert 0.0 <= min(samples) and max(samples) <= ceiling
    # Uniform(0, c) has mean c/2 and sd c/sqrt(12); 20,000 samples put the sample mean within
    # 5 standard errors (c * 0.0102) of c/2 except with probability ~6e-7.
    mean = sum(samples) / len(samples)
    assert abs(mean - ceiling / 2) < 5 * ceiling / (12**0.5 * len(samples) ** 0.5)
    assert max(samples) > 0.99 * ceiling  # the whole range is used


def test_full_jitter_draws_from_the_given_rng_like_botocore():
    # botocore standard mode: random.random() * min(2 ** (attempt - 1), 20)
    backoff = FullJitterBackoff(1.0, 2.0, 20.0)
    mine, theirs = random.Random(42), random.Random(42)
    for n in range(8):
        assert backoff.delay(n, 0.0, mine) == theirs.random() * min(2**n, 20)


def test_equal_jitter_stays_in_upper_half():
    backoff = EqualJitterBackoff(1.0, 2.0, 10.0)
    rng = random.Random(3)
    for n in range(8):
        ceiling = min(10.0, 2.0**n)
        for _ in range(200):
            d = backoff.delay(n, 0.0, rng)
            assert ceiling / 2 <= d <= ceiling


def test_decorrelated_jitter_grows_from_previous():
    backoff = DecorrelatedJitterBackoff(1.0, 30.0)
    rng = random.Random(5)
    previous = 0.0
    for n in range(50):
        d = backoff.delay(n, previous, rng)
        assert 1.0 <= d <= min(30.0, max(previous, 1.0) * 3)
        previous = d
    # The first delay starts from base: uniform(base, 3 * base).
    firsts = [backoff.delay(0, 0.0, rng) for _ in range(500)]
    assert 1.0 <= min(firsts) and max(firsts) <= 3.0 and max(firsts) > 2.9


def test_grpc_schedule_matches_the_connection_backoff_spec():
    backoff = GrpcBackoff()
    assert (backoff.initial, backoff.multiplier, backoff.jitter, backoff.max_backoff) == (
        1.0,
        1.6,
        0.2,
        120.0,
    )
    rng = random.Random(11)
    assert backoff.delay(0, 0.0, rng) == 1.0  # first deadline is INITIAL_BACKOFF, unjittered
    for n in range(1, 30):
        nominal = min(1.6**n, 120.0)
        for _ in range(50):
            assert 0.8 * nominal <= backoff.delay(n, 0.0, rng) <= 1.2 * nominal


def test_grpc_gaps_between_attempt_starts_through_the_controller():
    """Attempt starts are b_n apart however long each attempt took (sleep until deadline)."""
    policy = RetryPolicy.from_spec({"kind": "grpc", "max_attempts": 25})
    rng = random.Random(2)
    for attempt_duration in (0.0, 0.3):
        call = policy.begin(policy.new_client(), 0.0)
        starts, now = [], 0.0
        while True:
            wait = call.before_attempt(now)
            starts.append(now + wait)
            now += wait + attempt_duration
            delay = call.on_failure(now, SERVER_ERROR, rng)
            if not isinstance(delay, float):
                break
            now += delay
        assert call.outcome == "max_attempts" and len(starts) == 25
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert gaps[0] == pytest.approx(1.0)
        for n, gap in enumerate(gaps[1:], start=1):
            nominal = min(1.6**n, 120.0)
            assert 0.8 * nominal - 1e-9 <= gap <= 1.2 * nominal + 1e-9, (n, gap)
        assert max(gaps) > 120.0 * 0.8  # the cap was reached


def test_grpc_attempt_longer_than_backoff_is_followed_at_once():
    policy = RetryPolicy.from_spec({"kind": "grpc"})
    call = policy.begin(policy.new_client(), 0.0)
    assert call.before_attempt(0.0) == 0.0
    # A connect attempt that timed out after 20s: the 1s deadline passed long ago.
    assert call.on_failure(20.0, classify(timeout=True), random.Random(0)) == 0.0
    assert policy.min_attempt_timeout == 20.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: FixedBackoff(-1),
        lambda: ExponentialBackoff(1, 0.5, 10),
        lambda: FullJitterBackoff(float("nan"), 2, 10),
        lambda: GrpcBackoff(jitter=1.5),
    ],
)
def test_bad_parameters_are_refused(make):
    with pytest.raises(ValueError, match="got"):
        make()
