"""A scenario on a compressed clock, so the sim and the load engine run the very same story.

``compress(scenario, 0.25)`` multiplies the scenario's own clock (launch times, fault times,
restart backoff, health-check grace, horizon) by 0.25, divides its rates (Poisson and
autoscaling arrivals, operation quotas and throttle faults' quotas) by it, and leaves everything an instance does
at its natural speed (OS boot, local work, call timeouts, retry delays, service times): what
``load.time_scale`` and ``exec.time_scale`` do inside their engines, written into the scenario
itself, so the sim engine runs the compressed story too and the two can be compared.
"""

from __future__ import annotations

from sim.scenario.model import Scenario

__all__ = ["compress"]


def compress(scenario: Scenario, scale: float) -> Scenario:
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    if scale == 1.0:
        return scenario
    data = scenario.model_dump(mode="json", by_alias=True)
    fleet = data["fleet"]
    arrival = fleet["arrival"]
    kind = arrival["kind"]
    for key in ("at", "start", "over"):
        if arrival.get(key) is not None:
            arrival[key] *= scale
    if kind == "poisson":
        arrival["rate"] /= scale
    elif kind == "autoscaling":
        arrival["refill_rate"] /= scale
    elif kind == "steps":
        for step in arrival["steps"]:
            step["at"] *= scale
    backoff = fleet["replacement"]["backoff"]
    backoff["base"] *= scale
    backoff["cap"] *= scale
    if fleet.get("health_check_grace") is not None:
        fleet["health_check_grace"] *= scale
    for fault in data["faults"]:
        fault["at"] *= scale
        if fault.get("for") is not None:
            fault["for"] *= scale
        if fault.get("kind") == "throttle":
            _scale_quota(fault["quota"], scale)
    for dependency in data["dependencies"].values():
        for operation in (dependency.get("operations") or {}).values():
            if operation.get("quota"):
                _scale_quota(operation["quota"], scale)
    data["run"]["horizon"] *= scale
    data["load"]["time_scale"] = 1.0  # already compressed: the engines must not do it again
    data["exec"]["time_scale"] = 1.0
    data["description"] = (data.get("description") or "").strip() + f" (clock compressed x{scale:g})"
    return Scenario.model_validate(data)


def _scale_quota(quota: dict, scale: float) -> None:
    """A quota is per scenario second (as ``ScaledClock.rate``): its rate is divided by the
    scale; its burst is a count of calls and keeps the scenario's value (default one scenario
    second's worth)."""
    if quota.get("burst") is None:
        quota["burst"] = max(1.0, quota["rate"])
    quota["rate"] /= scale
