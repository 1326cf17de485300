"""Launch times of a fleet, from its arrival shape: pure functions, no simulation.

Like Locust's load shapes, an arrival shape only returns numbers: ``launch_times(spec, size,
rng)`` yields ``size`` non-decreasing times (seconds from the run's start). The engine pulls
them one at a time, so a million-instance ramp never holds a million pending events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from sim.scenario.fleet import Autoscaling, Burst, Poisson, Ramp, Steps

__all__ = ["launch_times", "RateClock"]


class RateClock:
    """Time measured in launches: ``advance(t, work)`` is the time when ``work`` launches'
    worth of rate has passed since ``t`` (the inverse of the integrated rate).

    ``rate`` is what ``sim.scenario.rates`` validated: a number, or ``{at, rate}`` points,
    piecewise constant, 0 before the first point, the last one holding forever (and > 0).
    A Poisson process with a changing rate is this clock driven by Exp(1) steps (the time
    change theorem); a paced ramp is this clock driven by steps of 1.
    """

    __slots__ = ("ats", "rates", "_i")

    def __init__(self, rate):
        if isinstance(rate, (int, float)):
            self.ats, self.rates = [0.0], [float(rate)]
        else:
            self.ats = [p["at"] for p in rate]
            self.rates = [p["rate"] for p in rate]
        self._i = 0  # the segment the last answer fell in; times only move forward

    def advance(self, t: float, work: float) -> float:
        ats, rates = self.ats, self.rates
        last = len(ats) - 1
        i = self._i
        while i > 0 and t < ats[i]:
            i -= 1
        if t < ats[0]:
            t = ats[0]
        while i < last and t >= ats[i + 1]:
            i += 1
        while True:
            rate = rates[i]
            end = ats[i + 1] if i < last else float("inf")
            if rate > 0.0:
                reach = t + work / rate
                if reach <= end:
                    self._i = i
                    return reach
                work -= (end - t) * rate
            t = end
            i += 1


def launch_times(spec, size: int, rng: random.Random) -> Iterator[float]:
    if isinstance(spec, Burst):
        for _ in range(size):
            yield spec.at
    elif isinstance(spec, Ramp):
        if spec.over is not None:
            step = spec.over / size
            for i in range(size):
                yield spec.start + i * step
        else:
            clock = RateClock(spec.rate)
            t = spec.start
            for i in range(size):
                yield t
                t = clock.advance(t, 1.0)
    elif isinstance(spec, Poisson):
        t = spec.start
        rate = spec.rate
        if isinstance(rate, float):
            for _ in range(size):
                t += rng.expovariate(rate)
                yield t
        else:
            clock = RateClock(rate)
            for _ in range(size):
                t = clock.advance(t, rng.expovariate(1.0))
                yield t
    elif isinstance(spec, Steps):
        for step in spec.steps:
            for _ in range(step.count):
                yield step.at
    elif isinstance(spec, Autoscaling):
        # EC2's launch bucket: `burst` launches at once, then one per 1/refill_rate seconds.
        if isinstance(spec.refill_rate, float):
            gap = 1.0 / spec.refill_rate
            for i in range(size):
                yield spec.at if i < spec.burst else spec.at + (i - spec.burst + 1) * gap
        else:
            clock = RateClock(spec.refill_rate)
            t = spec.at
            for i in range(size):
                if i >= spec.burst:
                    t = clock.advance(t, 1.0)
                yield t
    else:
        raise TypeError(f"unknown arrival shape {spec!r}")
