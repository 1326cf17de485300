"""Hypothesis properties of every schedule and of the controller."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.policies import (
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
    GiveUp,
    GrpcBackoff,
    NoBackoff,
    RetryPolicy,
    classify,
)

durations = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False)
multipliers = st.floats(min_value=1.0, max_value=10.0, allow_nan=False)


@st.composite
def schedules(draw):
    which = draw(st.integers(0, 6))
    if which == 0:
        return NoBackoff()
    if which == 1:
        return FixedBackoff(draw(durations))
    if which in (2, 3, 4):
        cls = (ExponentialBackoff, FullJitterBackoff, EqualJitterBackoff)[which - 2]
        return cls(draw(durations), draw(multipliers), draw(durations))
    if which == 5:
        return DecorrelatedJitterBackoff(draw(durations), draw(durations))
    return GrpcBackoff(
        draw(st.floats(0.001, 100.0)), draw(multipliers), draw(st.floats(0.0, 1.0)), draw(durations)
    )


@settings(max_examples=300, deadline=None)
@given(schedules(), st.integers(0, 2**31 - 1), st.integers(1, 60))
def test_delays_are_never_negative_never_above_cap_and_repeatable(backoff, seed, count):
    def sequence():
        rng, previous, out = random.Random(seed), 0.0, []
        for n in range(count):
            previous = backoff.delay(n, previous, rng)
            out.append(previous)
        return out

    delays = sequence()
    assert all(0.0 <= d <= backoff.max_delay * (1 + 1e-12) for d in delays)
    assert sequence() == delays


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "fixed",
            "exponential",
            "full_jitter",
            "equal_jitter",
            "decorrelated_jitter",
            "aws_legacy",
            "aws_standard",
            "aws_adaptive",
            "grpc",
        ]
    ),
    st.floats(0.05, 60.0),
    st.integers(0, 2**31 - 1),
    st.lists(
        st.tuples(st.floats(0.0, 5.0), st.sampled_from([None, "throttle", "server", "timeout"])),
        min_size=1,
        max_size=30,
    ),
)
def test_controller_keeps_its_promises(kind, deadline, seed, script):
    """No attempt starts at or after the deadline, no delay is negative, counts add up, and the
    same seed gives the same decisions."""
    errors = {
        "throttle": classify("Throttling", 400),
        "server": classify(None, 500),
        "timeout": classify(timeout=True),
    }
    policy = RetryPolicy.from_spec({"kind": kind, "deadline": deadline, "max_attempts": 20})

    def run():
        rng, client, now = random.Random(seed), policy.new_client(), 100.0
        call, trace = policy.begin(client, now), []
        for duration, outcome in script:
            wait = call.before_attempt(now)
            if isinstance(wait, GiveUp):
                break
            assert wait >= 0.0
            now += wait
            assert now < call.deadline_at
            trace.append(now)
            now += duration
            if outcome is None:
                call.on_success(now)
                break
            delay = call.on_failure(now, errors[outcome], rng)
            if isinstance(delay, GiveUp):
                break
            assert delay >= 0.0 and now + delay < call.deadline_at
            now += delay
        assert call.attempts == len(trace) and call.retries in (call.attempts - 1, call.attempts)
        assert call.attempts <= 20
        return trace, call.outcome

    assert run() == run()


@settings(max_examples=200, deadline=None)
@given(
    max_tokens=st.floats(0.5, 1000.0),
    ratio=st.floats(0.001, 1.0),
    fill=st.floats(0.0, 1.0),
    outcomes=st.lists(st.booleans(), max_size=200),
)
def test_retry_throttle_stays_in_its_bounds_and_allows_retries_only_above_half(
    max_tokens, ratio, fill, outcomes
):
    from sim.policies import RetryThrottle

    t = RetryThrottle(max_tokens, ratio, initial=fill * max_tokens)
    for failed in outcomes:
        t.on_failure() if failed else t.on_success()
        assert 0.0 <= t.tokens <= max_tokens
        assert t.retry_allowed() == (t.tokens > max_tokens / 2)


@st.composite
def rate_timelines(draw):
    n = draw(st.integers(1, 5))
    ats = sorted(set(draw(st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n))))
    rates = [draw(st.floats(0.0, 50.0)) for _ in ats[:-1]] + [draw(st.floats(0.01, 50.0))]
    return [{"at": a, "rate": r} for a, r in zip(ats, rates)]


def _integrated(points, t0, t1):
    total = 0.0
    for i, p in enumerate(points):
        end = points[i + 1]["at"] if i + 1 < len(points) else float("inf")
        lo, hi = max(t0, p["at"]), min(t1, end)
        if hi > lo:
            total += (hi - lo) * p["rate"]
    return total


@settings(max_examples=200, deadline=None)
@given(points=rate_timelines(), start=st.floats(0.0, 120.0),
       steps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=20))
def test_rate_clock_advances_by_exactly_the_integrated_rate(points, start, steps):
    """Time change: the integral of the rate from t to advance(t, w) is w, and time never goes
    back; arrivals of every shape with a timeline rely on it."""
    from sim.arrivals import RateClock

    clock = RateClock(points)
    t = start
    for work in steps:
        nxt = clock.advance(t, work)
        assert nxt >= t
        assert abs(_integrated(points, t, nxt) - work) <= 1e-6 * max(1.0, work)
        t = nxt
