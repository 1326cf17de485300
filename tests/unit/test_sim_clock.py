"""The sim engine's clock: a ``simpy.Environment`` whose ``later`` schedules a minimal event.

The reference is SimPy's own full ``Timeout`` events: the same schedule of callbacks, ties
included, must fire in the same order at the same times (and time types) with the minimal
``Wake`` events as with ``env.timeout(delay, value)``, and ``stop``/``run`` must end the run
as ``run(until=event)`` with ``event.succeed()`` does (what the engine did before ``Clock``).
"""

import random

import pytest
import simpy

from sim.engines.sim.clock import Clock, Deadlines


def _script(rng, n=3000):
    """Delays with many exact ties (0, repeated values) and nested scheduling."""
    return [rng.choice([0, 0.0, 0.5, 1, 1.0, 2.25, rng.random()]) for _ in range(n)]


def _run_simpy(delays):
    env = simpy.Environment()
    fired = []
    it = iter(delays)

    def cb(ev):
        fired.append((ev.value, env.now))
        for _ in range(2):
            d = next(it, None)
            if d is not None:
                env.timeout(d, len(fired) * 10 + _).callbacks.append(cb)

    env.timeout(0, -1).callbacks.append(cb)
    env.run()
    return fired


def _run_clock(delays):
    clock = Clock()
    fired = []
    it = iter(delays)

    def cb(value):
        fired.append((value, clock.now))
        for _ in range(2):
            d = next(it, None)
            if d is not None:
                clock.later(d, cb, len(fired) * 10 + _)
        if not clock.pending():  # nothing left: stop rather than run out
            clock.stop()

    clock.later(0, cb, -1)
    clock.run()
    return fired


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_order_and_times_as_simpy(seed):
    delays = _script(random.Random(seed))
    expected = _run_simpy(delays)
    got = _run_clock(delays)
    assert len(expected) == len(delays) + 1
    assert got == expected
    # Times are the same objects' values and types: SimPy starts at the integer 0.
    assert [type(t) for _, t in got] == [type(t) for _, t in expected]


def test_stop_ends_the_run_as_simpy_until_event_does():
    """``stop()`` is ``until.succeed()``: what was scheduled for now before it still runs,
    nothing scheduled after it does; the run ends at the time of the stop."""
    clock = Clock()
    fired = []

    def stopper(_):
        clock.stop()
        clock.stop()  # twice is harmless (SimPy would refuse a second succeed)
        clock.later(0, fired.append, "same time, after the stop")
        fired.append("stopper")

    clock.later(1, stopper)
    clock.later(1, fired.append, "same time, scheduled before the stop")
    clock.later(2, fired.append, "later")
    clock.run()
    assert fired == ["stopper", "same time, scheduled before the stop"]
    assert clock.now == 1


def test_negative_delay_is_refused():
    with pytest.raises(ValueError, match="Negative delay -1"):
        Clock().later(-1, print)


def test_running_out_of_events_is_an_error_not_a_hang():
    clock = Clock()
    clock.later(1, lambda _: None)
    with pytest.raises(RuntimeError, match="No scheduled events left"):
        clock.run()


def test_deadlines_fire_in_order_with_one_pending_event():
    clock = Clock()
    due = []
    d = Deadlines(clock, 5.0, lambda item: due.append((item, clock.now)))
    clock.later(0, d.add, "a")
    clock.later(1, d.add, "b")
    clock.later(1, d.add, "c")
    clock.later(2, lambda _: due.append(("pending", clock.pending())))
    clock.later(100, lambda _: clock.stop())
    clock.run()
    assert due == [("pending", 2), ("a", 5.0), ("b", 6.0), ("c", 6.0)]


def test_simpy_events_and_processes_mixed_with_wakes_keep_simpy_order():
    """``run`` handles ``Wake`` events itself and hands every other SimPy event (timeouts,
    processes, failures) to ``Environment.step``: a mix must fire in the order plain SimPy
    gives the same schedule made only of ``Timeout`` events."""
    delays = _script(random.Random(7), n=600)

    def mixed(use_clock):
        env = Clock() if use_clock else simpy.Environment()
        fired = []
        it = iter(delays)

        def on(value):
            fired.append((value, env.now))
            for k in range(2):
                d = next(it, None)
                if d is None:
                    continue
                tag = len(fired) * 10 + k
                if use_clock and k == 0:
                    env.later(d, on, tag)  # a Wake
                else:
                    env.timeout(d, tag).callbacks.append(lambda ev: on(ev.value))

        def proc(env):
            for i in range(5):
                yield env.timeout(0.5)
                fired.append((f"process {i}", env.now))

        env.process(proc(env))
        env.timeout(0, -1).callbacks.append(lambda ev: on(ev.value))
        if use_clock:
            env.timeout(10_000).callbacks.append(lambda ev: env.stop())
            env.run()
        else:
            env.run(until=10_000)
        return fired

    expected, got = mixed(False), mixed(True)
    assert len(expected) == len(delays) + 1 + 5
    assert got == expected


def test_a_failed_simpy_event_still_crashes_the_run():
    clock = Clock()
    clock.event().fail(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        clock.run()


def test_wakes_due_in_later_windows_wait_off_the_queue_and_keep_simpy_order():
    """Wakes due after the current one-second window wait in buckets, not on SimPy's heap;
    ties at the same time still run in insertion order wherever each waited (a bucket, the
    queue), and a SimPy timeout in between runs at its time."""
    clock = Clock()
    fired = []
    clock.later(2.0, fired.append, "a@2 scheduled at 0")
    clock.later(0.5, lambda _: clock.later(1.5, fired.append, "b@2 scheduled at 0.5"))
    clock.later(1.0, lambda _: clock.later(1.0, fired.append, "d@2 scheduled at 1"))
    clock.later(1.999999, fired.append, "c@1.999999")
    clock.timeout(1.5).callbacks.append(lambda ev: fired.append("simpy timeout@1.5"))
    clock.later(250.0, fired.append, "e@250, many windows on")
    clock.later(300, lambda _: clock.stop())
    assert len(clock._queue) == 2  # the 0.5 s wake and SimPy's timeout; the rest wait
    assert clock.pending() == 7
    clock.run()
    assert fired == ["simpy timeout@1.5", "c@1.999999", "a@2 scheduled at 0",
                     "b@2 scheduled at 0.5", "d@2 scheduled at 1", "e@250, many windows on"]
    assert clock.now == 300
