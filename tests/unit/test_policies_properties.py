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
