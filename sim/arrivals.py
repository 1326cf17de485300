"""Launch times of a fleet, from its arrival shape: pure functions, no simulation.

Like Locust's load shapes, an arrival shape only returns numbers: ``launch_times(spec, size,
rng)`` yields ``size`` non-decreasing times (seconds from the run's start). The engine pulls
them one at a time, so a million-instance ramp never holds a million pending events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from sim.scenario.fleet import Autoscaling, Burst, Poisson, Ramp, Steps

__all__ = ["launch_times"]


def launch_times(spec, size: int, rng: random.Random) -> Iterator[float]:
    if isinstance(spec, Burst):
        for _ in range(size):
            yield spec.at
    elif isinstance(spec, Ramp):
        step = spec.over / size
        for i in range(size):
            yield spec.start + i * step
    elif isinstance(spec, Poisson):
        t = spec.start
        rate = spec.rate
        for _ in range(size):
            t += rng.expovariate(rate)
            yield t
    elif isinstance(spec, Steps):
        for step in spec.steps:
            for _ in range(step.count):
                yield step.at
    elif isinstance(spec, Autoscaling):
        # EC2's launch bucket: `burst` launches at once, then one per 1/refill_rate seconds.
        gap = 1.0 / spec.refill_rate
        for i in range(size):
            yield spec.at if i < spec.burst else spec.at + (i - spec.burst + 1) * gap
    else:
        raise TypeError(f"unknown arrival shape {spec!r}")
