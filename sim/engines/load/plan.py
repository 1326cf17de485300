"""What a scenario asks of the load engine, checked and turned into the job the Locust side runs.

Every refusal is an `InvalidInput` raised here, before a fake or a Locust process starts:
calls the fakes cannot answer (`wire.check_operations`), faults they cannot apply
(``fakes.stack.check_scenario``). Times the scenario states on its own clock (arrivals,
faults, restart backoff, health-check grace, horizon) are multiplied by ``load.time_scale``
here, once, and quota rates divided by it (`sim.engines.live.plan.ScaledClock`); the job
carries them already scaled.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from sim.engines.live.plan import ScaledClock, instance_id
from sim.engines.load.wire import check_operations
from sim.scenario.loadspec import DEFAULT_LOAD_INSTANCES
from sim.scenario.model import Scenario

__all__ = ["LoadPlan", "plan_load", "instance_id"]


@dataclass(frozen=True)
class LoadPlan:
    size: int
    clock: ScaledClock  # the scenario's clock on the wall clock (load.time_scale)
    horizon: float  # scaled seconds
    grace: float | None  # scaled
    workers: int
    launches: list[float]  # scaled launch times of the first attempts, non-decreasing
    faults: list  # FaultSpecs with scaled at/for (and throttle quota rates)
    warnings: list[str] = field(default_factory=list)

    @property
    def scale(self) -> float:
        return self.clock.scale

    def job(self, scenario: Scenario, seed: int, endpoints: dict, stack_config) -> dict:
        """Everything a Locust worker needs, as JSON-able data (sent to workers by the master)."""
        rep = scenario.fleet.replacement
        return {
            "scenario": scenario.model_dump(mode="json", by_alias=True),
            "seed": seed,
            "size": self.size,
            "workers": self.workers,
            "scale": self.scale,
            "horizon": self.horizon,
            "grace": self.grace,
            "launches": self.launches,
            "max_attempts": rep.max_attempts if rep.enabled else 1,
            "endpoints": endpoints,
            "region": stack_config.region,
            "role": stack_config.role_name,
            "secret_id": next(iter(stack_config.secrets), "app/db-password"),
            "parameter": next(iter(stack_config.parameters), "/app/config"),
            "token_ttl": int(scenario.bootstrap.credentials.token_ttl),
        }


def plan_load(scenario: Scenario, workers: int | None = None, seed: int | None = None) -> LoadPlan:
    from fakes.stack import check_scenario

    check_operations(scenario)
    warnings = [f"load: {w}" for w in check_scenario(scenario)]
    spec = scenario.load
    scale = spec.time_scale
    size = spec.instances or min(scenario.fleet.size, DEFAULT_LOAD_INSTANCES)
    n_workers = workers or spec.workers or os.cpu_count() or 1
    if size < scenario.fleet.size:
        warnings.append(f"load: {size:,} virtual instances of the scenario's {scenario.fleet.size:,} "
                        "(load.instances), on the same arrival shape")
    if scale != 1.0:
        warnings.append(f"load: time compressed x{scale:g} (load.time_scale): arrivals, faults, "
                        "restart backoff, grace and horizon are scaled, quota rates divided by it; "
                        "calls, timeouts, retry delays and local work are not")
    rng = random.Random(scenario.run.seed if seed is None else seed)
    clock = ScaledClock(scale)
    return LoadPlan(
        size=size, clock=clock, horizon=clock.seconds(scenario.run.horizon),
        grace=clock.optional_seconds(scenario.fleet.health_check_grace), workers=n_workers,
        launches=clock.launches(scenario, size, rng), faults=clock.faults(scenario),
        warnings=warnings,
    )
