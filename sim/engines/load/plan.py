"""What a scenario asks of the load engine, checked and turned into the job the Locust side runs.

Every refusal is an `InvalidInput` raised here, before a fake or a Locust process starts:
calls the fakes cannot answer (`wire.check_operations`), faults they cannot apply
(``fakes.stack.check_scenario``). Times the scenario states on its own clock (arrivals,
faults, restart backoff, health-check grace, horizon) are multiplied by ``load.time_scale``
here, once; the job carries them already scaled.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from sim.arrivals import launch_times
from sim.engines.exec.plan import scaled_fault
from sim.engines.load.wire import check_operations
from sim.scenario.fleet import Steps
from sim.scenario.loadspec import DEFAULT_LOAD_INSTANCES
from sim.scenario.model import Scenario

__all__ = ["LoadPlan", "plan_load", "instance_id"]


def instance_id(instance: int, attempt: int) -> str:
    """One id per boot attempt (a replacement is a new EC2 instance), as the exec engine names them."""
    return f"i-{instance:012x}{attempt:05x}"


@dataclass(frozen=True)
class LoadPlan:
    size: int
    scale: float
    horizon: float  # scaled seconds
    grace: float | None  # scaled
    workers: int
    launches: list[float]  # scaled launch times of the first attempts, non-decreasing
    faults: list  # FaultSpecs with scaled at/for
    warnings: list[str] = field(default_factory=list)

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
                        "restart backoff, grace and horizon are scaled; calls, timeouts, retry "
                        "delays and local work are not")
    rng = random.Random(scenario.run.seed if seed is None else seed)
    grace = scenario.fleet.health_check_grace
    return LoadPlan(
        size=size, scale=scale, horizon=scenario.run.horizon * scale,
        grace=None if grace is None else grace * scale, workers=n_workers,
        launches=[t * scale for t in _launches(scenario, size, rng)],
        faults=[scaled_fault(f, scale) for f in scenario.faults], warnings=warnings,
    )


def _launches(scenario: Scenario, size: int, rng: random.Random) -> list[float]:
    """Fewer instances than ``fleet.size`` keep the arrival shape (as the exec engine does): a
    step schedule, which states its own counts, is thinned evenly."""
    arrival = scenario.fleet.arrival
    if isinstance(arrival, Steps):
        full = list(launch_times(arrival, scenario.fleet.size, rng))
        return [full[i * len(full) // size] for i in range(size)]
    return list(launch_times(arrival, size, rng))

