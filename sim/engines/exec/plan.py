"""What a scenario asks of the exec engine, checked and resolved before anything starts.

Every refusal is an `InvalidInput` raised here, so nothing is started for a run that cannot
happen: dependencies no fake serves, no command, unknown finding thresholds (faults the fakes
cannot apply are refused by ``fakes.stack.check_scenario`` at the start of the run). Times
the scenario states are multiplied by ``exec.time_scale`` here, once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sim.arrivals import launch_times
from sim.engines.exec.findings import FindingConfig
from sim.errors import InvalidInput
from sim.scenario.execspec import DEFAULT_EXEC_INSTANCES
from sim.scenario.fleet import Steps
from sim.scenario.model import Scenario

__all__ = ["ExecPlan", "plan_exec", "scaled_fault"]


@dataclass(frozen=True)
class ExecPlan:
    command: str
    size: int  # instances launched
    scale: float
    horizon: float  # scaled, seconds
    grace: float | None  # scaled health-check grace
    finding_config: FindingConfig
    faults: list  # FaultSpecs with scaled at/for

    def launches(self, scenario: Scenario, rng: random.Random) -> list[float]:
        """Scaled launch times (seconds from the run's start) of the first attempts.

        Fewer instances than ``fleet.size`` keep the arrival shape: a ramp spreads them over the
        same window, a Poisson process keeps its rate, and a step schedule (which states its
        own counts) is thinned evenly, so every step keeps its share.
        """
        arrival = scenario.fleet.arrival
        if isinstance(arrival, Steps):
            full = list(launch_times(arrival, scenario.fleet.size, rng))
            times = [full[i * len(full) // self.size] for i in range(self.size)]
        else:
            times = list(launch_times(arrival, self.size, rng))
        return [t * self.scale for t in times]

    def backoff(self, scenario: Scenario, attempt: int, rng: random.Random) -> float:
        """Scaled delay before attempt ``attempt + 1`` (the sim engine's formula)."""
        b = scenario.fleet.replacement.backoff
        delay = min(b.cap, b.base * b.multiplier ** (attempt - 1))
        if b.jitter:
            delay = rng.uniform(0.0, delay)
        return delay * self.scale


def plan_exec(scenario: Scenario) -> ExecPlan:
    from fakes.stack import DEPENDENCY_FAKES

    spec = scenario.exec
    unserved = [name for name in scenario.dependencies if name not in DEPENDENCY_FAKES]
    if unserved:
        raise InvalidInput(
            f"exec engine: dependencies {', '.join(map(repr, unserved))} have no real fake; the "
            f"fakes serve {', '.join(DEPENDENCY_FAKES)}; remove them (and the steps calling "
            "them) or run this scenario on the sim engine")
    command = spec.command or scenario.bootstrap.command
    if not command:
        raise InvalidInput("exec engine: no command to run; set exec.command or "
                           "bootstrap.command in the scenario (or pass --bootstrap CMD)")
    try:
        finding_config = FindingConfig(**spec.findings)
    except TypeError as exc:
        raise InvalidInput(f"exec.findings: {exc}; expected fields of FindingConfig") from None
    scale = spec.time_scale
    grace = scenario.fleet.health_check_grace
    return ExecPlan(
        command=command,
        size=spec.instances or min(scenario.fleet.size, DEFAULT_EXEC_INSTANCES),
        scale=scale,
        horizon=scenario.run.horizon * scale,
        grace=None if grace is None else grace * scale,
        finding_config=finding_config,
        faults=[scaled_fault(f, scale) for f in scenario.faults],
    )


def scaled_fault(fault, scale: float):
    """The fault with its start and length multiplied by ``scale`` (a compressed clock)."""
    if scale == 1.0:
        return fault
    update = {"at": fault.at * scale}
    if fault.for_ is not None:
        update["for_"] = fault.for_ * scale
    return fault.model_copy(update=update)
