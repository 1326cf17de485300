"""Measure the real fakes, and write what was measured into a calibrated copy of a scenario.

Two probes, both run on the load engine against the same stack (real HTTP, the same client
path the calibration run uses, so the latency is what a virtual instance sees: Toxiproxy hop
and client included):

- **service times**: ``LIGHT_INSTANCES`` instances over ``LIGHT_OVER`` seconds, each making
  every operation the scenario calls once, in order (token, credentials, then the others):
  first calls, like a boot (IMDS's GetCredentials assumes the role on moto the first time).
  Each operation's served latencies give a lognormal ``service_time`` (median and p99).
- **capacity**: ``HEAVY_INSTANCES`` instances at once, each repeating every operation
  ``HEAVY_REPEAT`` times: the busiest second of each dependency's served calls is its
  capacity (a lower bound when the fake was not saturated: the report says which).
  ``concurrency = ceil(capacity x mean service time)`` (Little's law), so the model serves
  no more than the fake did.

`apply_fit` writes them into the scenario (per-operation ``service_time``, dependency
``service_time`` and ``concurrency``); everything else (quotas, timeouts, retries, faults)
stays as the user wrote it. `Fit.parameters` lists what came from measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.scenario.model import Scenario

__all__ = ["Fit", "measure", "apply_fit", "probe_scenario"]

LIGHT_INSTANCES, LIGHT_OVER = 40, 20.0
HEAVY_INSTANCES, HEAVY_REPEAT = 60, 8
_FIRST = ("imds.PutToken", "imds.GetCredentials")


@dataclass
class Fit:
    service: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # op -> (median, p99, n)
    mean: dict[str, float] = field(default_factory=dict)  # dependency -> mean latency (s)
    capacity: dict[str, float] = field(default_factory=dict)  # dependency -> calls/s
    saturated: dict[str, bool] = field(default_factory=dict)
    parameters: list[str] = field(default_factory=list)  # what apply_fit wrote, for the report


def _called_ops(scenario: Scenario) -> list[str]:
    ops = []
    for step in scenario.bootstrap.steps:
        if step.call and step.call not in ops:
            ops.append(step.call)
    return sorted(ops, key=lambda o: (_FIRST.index(o) if o in _FIRST else len(_FIRST), ops.index(o)))


def probe_scenario(scenario: Scenario, instances: int, over: float, repeat: int) -> Scenario:
    """Every called operation ``repeat`` times in a chain, no retries, on a ramp (or a burst)."""
    data = scenario.model_dump(mode="json", by_alias=True)
    steps, prev = [], None
    for op in _called_ops(scenario):
        provides = {"imds.PutToken": "imds_token", "imds.GetCredentials": "credentials"}.get(op)
        for k in range(1 if provides else repeat):
            name = f"{op.replace('.', '_')}_{k}"
            step = {"name": name, "call": op, "timeout": 10.0, "optional": provides is None}
            if provides:
                step["provides"] = provides
            if prev:
                step["after"] = [prev]
            steps.append(step)
            prev = name
    steps.append({"name": "done", "work": 0.0, "after": [prev], "marks": ["ready"]})
    data.update(name=f"{scenario.name}-probe", faults=[], slos=[])
    data["bootstrap"] = {"steps": steps, "credentials": data["bootstrap"]["credentials"]}
    data["fleet"] = {"size": instances, "os_boot": 0.0,
                     "arrival": {"kind": "ramp", "over": over} if over > 0 else {"kind": "burst"}}
    data["run"]["horizon"] = max(120.0, over + 120.0)
    data["load"] = {**data["load"], "instances": instances, "time_scale": 1.0}
    return Scenario.model_validate(data)


def measure(scenario: Scenario, stack, workers: int | None = None) -> Fit:
    from sim.engines.load import run

    fit = Fit()
    light = run(probe_scenario(scenario, LIGHT_INSTANCES, LIGHT_OVER, 1), stack=stack, workers=workers)
    by_op: dict[str, list[float]] = {}
    by_dep: dict[str, list[float]] = {}
    for c in light.load_call_records:
        _, _, latency, dep, op, _, _, _, code, kind = c
        if kind == "served":
            by_op.setdefault(f"{dep}.{op}", []).append(latency)
            by_dep.setdefault(dep, []).append(latency)
    for op, values in by_op.items():
        v = np.asarray(values)
        fit.service[op] = (float(np.median(v)), float(np.percentile(v, 99)), len(v))
    fit.mean = {dep: float(np.mean(v)) for dep, v in by_dep.items()}
    heavy = run(probe_scenario(scenario, HEAVY_INSTANCES, 0.0, HEAVY_REPEAT), stack=stack, workers=workers)
    for dep, series in heavy.dependencies.items():
        served = series.counts["served"]
        if served.sum() == 0:
            continue
        fit.capacity[dep] = float(served.max() / series.interval)
        # Saturated: callers waited on the fake (latency under the burst well above the light one).
        p50 = series.latency_percentile(50, per_interval=False)
        fit.saturated[dep] = bool(math.isfinite(p50) and p50 > 3 * fit.mean.get(dep, math.inf))
    return fit


def _lognormal(median: float, p99: float) -> dict:
    median = max(median, 1e-4)
    return {"kind": "lognormal", "median": round(median, 6), "p99": round(max(p99, median * 1.05), 6)}


def apply_fit(scenario: Scenario, fit: Fit) -> Scenario:
    data = scenario.model_dump(mode="json", by_alias=True)
    fit.parameters = []
    for dep_name, dep in data["dependencies"].items():
        ops = [f"{dep_name}.{o}" for o in dep["operations"] if f"{dep_name}.{o}" in fit.service]
        for key in ops:
            median, p99, n = fit.service[key]
            dep["operations"][key.split(".")[1]]["service_time"] = _lognormal(median, p99)
            fit.parameters.append(f"dependencies.{key.replace('.', '.operations.')}.service_time: lognormal "
                                  f"median {median * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (n={n}, first calls)")
        if ops:
            medians = [fit.service[k][0] for k in ops]
            p99s = [fit.service[k][1] for k in ops]
            dep["service_time"] = _lognormal(float(np.median(medians)), float(max(p99s)))
        cap, mean = fit.capacity.get(dep_name), fit.mean.get(dep_name)
        if cap and mean and fit.saturated.get(dep_name):
            concurrency = max(1, math.ceil(cap * mean))
            dep["concurrency"] = concurrency
            fit.parameters.append(f"dependencies.{dep_name}.concurrency: {concurrency} (capacity "
                                  f"{cap:.0f} calls/s x mean {mean * 1000:.1f} ms, Little's law)")
        elif cap:  # a lower bound only: capping the model there would invent a bottleneck
            fit.parameters.append(f"dependencies.{dep_name}.concurrency: kept at {dep['concurrency']} "
                                  f"(the probe did not saturate the fake: capacity >= {cap:.0f} calls/s)")
    data["description"] = (data.get("description") or "").strip() + " (calibrated against the fakes)"
    return Scenario.model_validate(data)
