"""What a scenario asks of the exec engine, checked and resolved before anything starts.

Every refusal is an `InvalidInput` raised here, so nothing is started for a run that cannot
happen: dependencies no fake serves, no command, unknown finding thresholds (faults the fakes
cannot apply are refused by ``fakes.stack.check_scenario`` at the start of the run). Times
the scenario states are multiplied by ``exec.time_scale`` here, once, and quota rates divided
by it (`sim.engines.live.plan.ScaledClock`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sim.engines.exec.findings import FindingConfig
from sim.engines.live.plan import ScaledClock
from sim.errors import InvalidInput
from sim.scenario.execspec import DEFAULT_EXEC_INSTANCES
from sim.scenario.model import Scenario

__all__ = ["ExecPlan", "plan_exec"]


@dataclass(frozen=True)
class ExecPlan:
    command: str
    size: int  # instances launched
    clock: ScaledClock  # the scenario's clock on the wall clock (exec.time_scale)
    horizon: float  # scaled, seconds
    grace: float | None  # scaled health-check grace
    finding_config: FindingConfig
    faults: list  # FaultSpecs with scaled at/for (and throttle quota rates)

    @property
    def scale(self) -> float:
        return self.clock.scale

    def launches(self, scenario: Scenario, rng: random.Random) -> list[float]:
        """Scaled launch times (seconds from the run's start) of the first attempts
        (`sim.engines.live.plan.launch_times`: fewer instances keep the arrival shape)."""
        return self.clock.launches(scenario, self.size, rng)

    def backoff(self, scenario: Scenario, attempt: int, rng: random.Random) -> float:
        """Scaled delay before attempt ``attempt + 1`` (the sim engine's formula)."""
        return self.clock.seconds(scenario.fleet.replacement.backoff.delay(attempt, rng))


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
    clock = ScaledClock(spec.time_scale)
    return ExecPlan(
        command=command,
        size=spec.instances or min(scenario.fleet.size, DEFAULT_EXEC_INSTANCES),
        clock=clock,
        horizon=clock.seconds(scenario.run.horizon),
        grace=clock.optional_seconds(scenario.fleet.health_check_grace),
        finding_config=finding_config,
        faults=clock.faults(scenario),
    )
