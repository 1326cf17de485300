"""A dry run: what a scenario will do, and where demand already exceeds capacity on paper.

``plan(scenario)`` returns plain rows (no printing): the fleet and its launch rate, the steps
in the order they can run, and per dependency operation the demand the launch rate implies
against its quota and modelled capacity. A first answer for capacity planning before any
simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.distributions import mean_of
from sim.scenario.bootstrap import topological_order
from sim.scenario.fleet import Autoscaling, Burst, Poisson, Ramp, Steps
from sim.scenario.model import Scenario
from sim.scenario.slos import slo_warnings
from sim.units import format_duration

__all__ = ["Plan", "OperationPlan", "plan"]


@dataclass
class OperationPlan:
    operation: str
    calls_per_boot: int
    peak_demand_rps: float  # first attempts only, if every boot reached this step at once-ish
    quota_rps: float | None
    capacity_rps: float

    @property
    def over_quota(self) -> bool:
        return self.quota_rps is not None and self.peak_demand_rps > self.quota_rps

    @property
    def over_capacity(self) -> bool:
        return self.peak_demand_rps > self.capacity_rps


@dataclass
class Plan:
    name: str
    size: int
    arrival: str
    peak_launch_rate: float
    steps: list[str]
    operations: list[OperationPlan]
    faults: list[str]
    slos: list[str]
    horizon: float
    seed: int
    slo_warnings: list[str] = field(default_factory=list)  # see sim.scenario.slos.slo_warnings

    def warnings(self) -> list[str]:
        out = list(self.slo_warnings)
        for op in self.operations:
            if op.over_quota:
                out.append(
                    f"{op.operation}: launches imply about {op.peak_demand_rps:,.0f} calls/s, "
                    f"over its quota of {op.quota_rps:,.0f}/s: expect throttling and retries"
                )
            elif op.over_capacity:
                out.append(
                    f"{op.operation}: launches imply about {op.peak_demand_rps:,.0f} calls/s, "
                    f"over its modelled capacity of {op.capacity_rps:,.0f}/s: expect queueing"
                )
        return out


def _peak(rate) -> float:
    return rate if isinstance(rate, float) else max(p["rate"] for p in rate)


def _rate_text(rate) -> str:
    if isinstance(rate, float):
        return f"{rate:g}"
    return f"{min(p['rate'] for p in rate):g} to {_peak(rate):g} (timeline)"


def _arrival(scenario: Scenario) -> tuple[str, float]:
    a = scenario.fleet.arrival
    n = scenario.fleet.size
    if isinstance(a, Burst):
        return f"burst of {n:,} at {format_duration(a.at)}", float(n)
    if isinstance(a, Ramp):
        if a.over is not None:
            return f"ramp of {n:,} over {format_duration(a.over)}", n / a.over
        return f"ramp of {n:,} at {_rate_text(a.rate)} launches/s", _peak(a.rate)
    if isinstance(a, Poisson):
        return f"Poisson, {_rate_text(a.rate)} launches/s", _peak(a.rate)
    if isinstance(a, Steps):
        return f"{len(a.steps)} steps, largest {max(s.count for s in a.steps):,}", float(
            max(s.count for s in a.steps)
        )
    if isinstance(a, Autoscaling):
        return (f"autoscaling: {min(a.burst, n):,} at once, then {_rate_text(a.refill_rate)}/s",
                float(min(a.burst, n)))
    return str(a), float(n)


def plan(scenario: Scenario) -> Plan:
    arrival, rate = _arrival(scenario)
    # A burst lands spread over the OS boot time: what reaches the dependencies per second.
    spread = max(1.0, mean_of(scenario.fleet.os_boot) / 2)
    if isinstance(scenario.fleet.arrival, (Burst, Steps)) or (
        isinstance(scenario.fleet.arrival, Autoscaling)
    ):
        rate = rate / spread
    steps = scenario.bootstrap.steps
    order = topological_order(steps)
    step_lines = []
    counts: dict[str, int] = {}
    for i in order:
        s = steps[i]
        what = f"call {s.call}" if s.call else "local work"
        after = f" after {', '.join(s.after)}" if s.after else ""
        marks = f" [{', '.join(s.marks)}]" if s.marks else ""
        step_lines.append(f"{s.name}: {what}{after}{marks}")
        if s.call:
            counts[s.call] = counts.get(s.call, 0) + 1
    ops = []
    for key, n_calls in counts.items():
        dep_name, op_name = key.split(".")
        dep = scenario.dependencies[dep_name]
        op = dep.operations[op_name]
        service = op.service_time or dep.service_time
        mean = mean_of(service)
        capacity = dep.concurrency / mean if mean > 0 else float("inf")
        ops.append(OperationPlan(key, n_calls, rate * n_calls,
                                 op.quota.rate if op.quota else None, capacity))
    faults = [
        f"{format_duration(f.at)}"
        + (f" for {format_duration(f.for_)}" if f.for_ is not None else " until the end")
        + f": {f.kind} on {f.target}"
        for f in scenario.faults
    ]
    return Plan(
        name=scenario.name, size=scenario.fleet.size, arrival=arrival, peak_launch_rate=rate,
        steps=step_lines, operations=ops, faults=faults, slos=[s.text for s in scenario.slos],
        slo_warnings=slo_warnings(scenario.slos),
        horizon=scenario.run.horizon, seed=scenario.run.seed,
    )
