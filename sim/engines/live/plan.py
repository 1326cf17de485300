"""The scenario's clock compressed by ``time_scale``, as the exec and load engines run it.

A scenario states its times on its own clock (arrivals, faults, restart backoff, health-check
grace, horizon, quota rates). ``time_scale`` 0.1 runs that story ten times faster on the wall
clock: every scenario time is multiplied by the scale and every scenario rate divided by it,
here and nowhere else. What an instance does itself (its calls, timeouts, retry delays, local
work) keeps its natural speed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sim.arrivals import launch_times as arrival_times
from sim.scenario.fleet import Steps
from sim.scenario.model import Scenario

__all__ = ["ScaledClock", "instance_id", "launch_times"]


def instance_id(instance: int, attempt: int) -> str:
    """One EC2 instance id per boot attempt (a replacement is a new instance)."""
    return f"i-{instance:012x}{attempt:05x}"


def launch_times(scenario: Scenario, size: int, rng: random.Random) -> list[float]:
    """Launch times (scenario seconds) of ``size`` first attempts on the scenario's arrival shape.

    Fewer instances than ``fleet.size`` keep the shape: a ramp spreads them over the same
    window, a Poisson process keeps its rate, and a step schedule (which states its own counts)
    is thinned evenly, so every step keeps its share.
    """
    arrival = scenario.fleet.arrival
    if isinstance(arrival, Steps):
        full = list(arrival_times(arrival, scenario.fleet.size, rng))
        return [full[i * len(full) // size] for i in range(size)]
    return list(arrival_times(arrival, size, rng))


@dataclass(frozen=True)
class ScaledClock:
    """Scenario time -> wall time: ``seconds`` multiplies by ``scale``, ``rate`` divides."""

    scale: float = 1.0

    def seconds(self, t: float) -> float:
        return t * self.scale

    def optional_seconds(self, t: float | None) -> float | None:
        return None if t is None else t * self.scale

    def rate(self, per_second: float) -> float:
        """A rate per scenario second as a rate per wall second (a quota of 40/s at 0.1: 400/s)."""
        return per_second / self.scale

    def launches(self, scenario: Scenario, size: int, rng: random.Random) -> list[float]:
        """Wall-clock launch times of ``size`` first attempts (see `launch_times`)."""
        return [t * self.scale for t in launch_times(scenario, size, rng)]

    def fault(self, fault):
        """The fault with its start and length scaled, and a ``throttle`` fault's quota rate
        per wall second (its burst is a count of calls and stays)."""
        if self.scale == 1.0:
            return fault
        update = {"at": fault.at * self.scale}
        if fault.for_ is not None:
            update["for_"] = fault.for_ * self.scale
        if fault.kind == "throttle":
            quota = getattr(fault, "quota", None)
            if quota is not None:
                update["quota"] = quota.model_copy(
                    update={"rate": self.rate(quota.rate), "burst": quota.capacity})
        return fault.model_copy(update=update)

    def faults(self, scenario: Scenario) -> list:
        return [self.fault(f) for f in scenario.faults]
