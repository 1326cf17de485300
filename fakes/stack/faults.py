"""Scenario faults onto the fakes' control APIs: what each fault kind does to which fake.

    dependency                     fake         network faults on       API faults on
    imds                           IMDS         toxiproxy "imds"        IMDS settings
    secretsmanager, ssm, sts, iam  AWS gate     toxiproxy "<service>"   gate rules
    registry, telemetry            sinks        toxiproxy "<name>"      sinks settings

    partition        ``timeout`` toxic (timeout 0), both directions: calls hang, no answer
    latency          ``latency`` toxic downstream (``latency`` s, optional ``jitter`` s)
    slow_bandwidth   ``bandwidth`` toxic downstream: NOMINAL_BANDWIDTH_KB / ``factor`` KB/s
                     (or ``rate_kb`` KB/s given directly)
    reset            ``reset_peer`` toxic upstream (timeout 0): connections reset
    outage           gate outage rule (503 ServiceUnavailable) | IMDS outage (503) |
                     sinks fail_status 503 (registry and telemetry share it)
    error_rate       gate error_rate rule (``rate``, status 500)
    throttle         gate throttle rule, token bucket ``quota`` {rate, burst} |
                     IMDS per-instance rate limit (429) at ``quota.rate``
    deny             gate deny rule (AccessDenied[Exception]) | IMDS endpoint disabled (403)
    expire_credentials
                     target ``instances``: IMDS expires every instance's role credentials
                     (new ones on the next request) and the gate expires every key it knows
                     (ExpiredToken[Exception] on the next call signed with one);
                     target ``imds``: every IMDSv2 session token dies (401 until a new PUT)

Network faults on ``dependency.Operation`` hit the whole dependency (a proxy sees bytes, not
operations); the handle notes that.

IMDS for one instance, or served on per-instance root listeners (the exec engine's netns
isolation, ``stack.imds_listeners``): instances do not share toxiproxy's ``imds`` proxy, so
network faults on imds become the IMDS's own settings, for every instance (and new ones) or
for the one named by the ``instance`` parameter (``stack.apply_fault("reset", "imds",
instance="i-...")``): partition -> ``partition`` (requests held unanswered), reset ->
``connection_reset`` (TCP RST), latency -> ``latency`` (no jitter); slow_bandwidth cannot
be expressed there and is refused. outage, throttle and deny take ``instance`` too.

A fault the fakes cannot express raises `InvalidInput`; `check_scenario` finds all of them
before a run starts.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sim.errors import InvalidInput
from sim.units import parse_duration

__all__ = [
    "FaultHandle",
    "apply_fault",
    "apply_spec",
    "lift_fault",
    "lift_all",
    "check_scenario",
    "check_fault",
    "DEPENDENCY_FAKES",
    "NOMINAL_BANDWIDTH_KB",
]

DEPENDENCY_FAKES = {
    "imds": "imds",
    "secretsmanager": "gate",
    "ssm": "gate",
    "sts": "gate",
    "iam": "gate",
    "registry": "sinks",
    "telemetry": "sinks",
}
NETWORK_KINDS = ("partition", "latency", "slow_bandwidth", "reset")
_API_KINDS = {
    "gate": ("outage", "error_rate", "throttle", "deny"),
    "imds": ("outage", "throttle", "deny"),
    "sinks": ("outage",),
}
_PARAMS = {
    "partition": set(),
    "outage": set(),
    "deny": set(),
    "reset": set(),
    "expire_credentials": set(),
    "error_rate": {"rate", "status"},
    "latency": {"latency", "jitter"},
    "throttle": {"quota", "rate", "burst"},
    "slow_bandwidth": {"factor", "rate_kb"},
}
# The link a bootstrap's transfers run at without the fault; slow_bandwidth divides it.
NOMINAL_BANDWIDTH_KB = 10_240
_SPEC_FIELDS = {"at", "for_", "target", "kind"}
_ids = itertools.count(1)


@dataclass
class FaultHandle:
    """One applied fault; `lift_fault` undoes it (idempotent). One-shot faults have no undo."""

    id: str
    kind: str
    target: str
    params: dict[str, Any]
    applied_at: float
    lifted_at: float | None = None
    notes: list[str] = field(default_factory=list)
    undo: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def active(self) -> bool:
        return self.lifted_at is None


def _route(kind: str, target: str) -> tuple[str, str, str | None]:
    """(fake, dependency, operation) for a fault, or InvalidInput saying why not."""
    if kind not in _PARAMS:
        raise InvalidInput(f"fault kind: expected one of {', '.join(_PARAMS)}, got {kind!r}")
    if not isinstance(target, str) or not target:
        raise InvalidInput(f"{kind} fault: target must be a dependency name, got {target!r}")
    if kind == "expire_credentials":
        if target not in ("instances", "imds"):
            raise InvalidInput(
                f"expire_credentials fault: target must be 'instances' (role credentials) or 'imds' "
                f"(session tokens), got {target!r}"
            )
        return ("imds", target, None)
    dependency, _, operation = target.partition(".")
    fake = DEPENDENCY_FAKES.get(dependency)
    if fake is None:
        raise InvalidInput(
            f"{kind} fault on {target!r}: dependency {dependency!r} has no real fake; the fakes stack "
            f"serves {', '.join(DEPENDENCY_FAKES)} (use the sim engine for the others)"
        )
    if kind not in NETWORK_KINDS and kind not in _API_KINDS[fake]:
        can = ", ".join((*NETWORK_KINDS, *_API_KINDS[fake]))
        raise InvalidInput(f"{kind} fault on {target!r}: the {fake} fake cannot do {kind}; it can do {can}")
    if kind == "throttle" and fake == "gate" and not operation:
        raise InvalidInput(f"throttle fault: target must be dependency.Operation (a quota is per operation), got {target!r}")
    return fake, dependency, operation or None


def check_fault(kind: str, target: str, **params: Any) -> None:
    """Raise InvalidInput if the fakes cannot apply this fault (without applying it)."""
    _route(kind, target)
    _check_params(kind, target, params)


def _check_params(kind: str, target: str, params: dict[str, Any]) -> None:
    unknown = set(params) - _PARAMS[kind]
    if unknown:
        allowed = sorted(_PARAMS[kind]) or "none"
        raise InvalidInput(f"{kind} fault on {target!r}: unknown parameters {sorted(unknown)}; allowed: {allowed}")


def _seconds(kind: str, name: str, value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidInput(f"{kind} fault: parameter {name!r}: {exc}") from None


def _quota(params: dict[str, Any]) -> tuple[float, float | None]:
    quota = params.get("quota")
    if quota is not None:
        rate, burst = (quota.get("rate"), quota.get("burst")) if isinstance(quota, dict) else (quota.rate, quota.burst)
    else:
        rate, burst = params.get("rate"), params.get("burst")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
        raise InvalidInput(f"throttle fault: quota rate must be a number >= 0 calls/s, got {rate!r}")
    return float(rate), (None if burst is None else float(burst))


def apply_fault(stack, kind: str, target: str, *, instance: str | None = None, **params: Any) -> FaultHandle:
    """Apply a fault now; ``instance``: only that IMDS instance (imds faults only)."""
    fake, dependency, operation = _route(kind, target)
    _check_params(kind, target, params)
    per_instance = instance is not None
    if per_instance and (fake != "imds" or kind == "expire_credentials" or not isinstance(instance, str)):
        raise InvalidInput(f"{kind} fault on {target!r}: 'instance' applies to imds faults only, "
                           f"as an instance id string; got instance={instance!r}")
    handle = FaultHandle(f"f{next(_ids)}", kind, target, dict(params), time.time())
    if instance is not None:
        handle.params["instance"] = instance
    if kind in NETWORK_KINDS and fake == "imds" and (per_instance or getattr(stack, "imds_listeners", False)):
        _imds_network(stack, handle, instance)
    elif kind in NETWORK_KINDS:
        _network(stack, handle, dependency, operation)
    elif kind == "expire_credentials":
        _expire(stack, handle)
    elif fake == "gate":
        _gate(stack, handle, dependency, operation)
    elif fake == "imds":
        _imds(stack, handle, instance)
    else:
        handle.undo.append(stack.hold(("sinks", "fail_status"), 503, 0, lambda v: stack.sinks.settings(fail_status=v)))
        handle.notes.append("sinks outage fails registry and telemetry together (one fail_status)")
    if handle.undo:
        stack.faults[handle.id] = handle
    else:
        handle.lifted_at = handle.applied_at  # one-shot: nothing stays applied
    return handle


def apply_spec(stack, spec: Any) -> FaultHandle:
    """Apply a scenario fault model (``sim.scenario.faults``) now; its timing is the caller's."""
    data = spec.model_dump() if hasattr(spec, "model_dump") else dict(spec)
    params = {k: v for k, v in data.items() if k not in _SPEC_FIELDS and k != "for"}
    return apply_fault(stack, data["kind"], data["target"], **params)


def _network(stack, handle: FaultHandle, dependency: str, operation: str | None) -> None:
    kind, p = handle.kind, handle.params
    if operation:
        handle.notes.append(f"{kind} on {handle.target}: a proxy cannot tell operations apart; all of {dependency} is hit")
    if kind == "partition":
        toxics = [("timeout", stream, {"timeout": 0}) for stream in ("upstream", "downstream")]
    elif kind == "latency":
        if "latency" not in p:
            raise InvalidInput(f"latency fault on {handle.target!r}: parameter 'latency' (seconds) is required")
        latency_ms = round(_seconds(kind, "latency", p["latency"]) * 1000)
        jitter_ms = round(_seconds(kind, "jitter", p.get("jitter", 0)) * 1000)
        toxics = [("latency", "downstream", {"latency": latency_ms, "jitter": jitter_ms})]
    elif kind == "slow_bandwidth":
        if "rate_kb" in p:
            rate = p["rate_kb"]
        elif "factor" in p and isinstance(p["factor"], (int, float)) and p["factor"] > 1:
            rate = NOMINAL_BANDWIDTH_KB / p["factor"]
        else:
            raise InvalidInput(f"slow_bandwidth fault: give 'factor' (> 1) or 'rate_kb' (KB/s), got {p!r}")
        toxics = [("bandwidth", "downstream", {"rate": max(1, int(rate))})]
    else:
        toxics = [("reset_peer", "upstream", {"timeout": 0})]
    for toxic_type, stream, attributes in toxics:
        name = stack.proxies.add_toxic(dependency, toxic_type, stream, attributes)
        handle.undo.append(lambda name=name: stack.proxies.remove_toxic(dependency, name))


def _gate(stack, handle: FaultHandle, service: str, operation: str | None) -> None:
    kind, p, gate = handle.kind, handle.params, stack.gate
    if kind == "outage":
        rule = gate.outage(service, operation)
    elif kind == "deny":
        rule = gate.deny(service, operation)
    elif kind == "error_rate":
        rate = p.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise InvalidInput(f"error_rate fault on {handle.target!r}: 'rate' must be in (0, 1], got {rate!r}")
        rule = gate.set_error_rate(service, float(rate), status=int(p.get("status", 500)), operation=operation)
    else:
        rate, burst = _quota(p)
        fields = {"rate": rate} if burst is None else {"rate": rate, "burst": burst}
        rule = gate.add_rule("throttle", service, operation, **fields)
    handle.undo.append(lambda: gate.remove_rule(rule))


def _imds_network(stack, handle: FaultHandle, instance: str | None) -> None:
    kind, p = handle.kind, handle.params
    if kind == "slow_bandwidth":
        raise InvalidInput(f"slow_bandwidth fault on {handle.target!r}: IMDS served per instance (netns "
                           "isolation, or one instance) has no bandwidth setting; use latency, or "
                           "isolation env")
    if kind == "latency":
        if "latency" not in p:
            raise InvalidInput(f"latency fault on {handle.target!r}: parameter 'latency' (seconds) is required")
        setting, value = "latency", _seconds(kind, "latency", p["latency"])
        if p.get("jitter"):
            handle.notes.append("latency on imds per instance: the IMDS latency setting has no jitter")
    else:
        setting, value = ("partition", True) if kind == "partition" else ("connection_reset", True)
    default = stack.imds_default(setting)
    default = (0.0 if setting == "latency" else False) if default is None else default
    handle.undo.append(stack.hold(("imds", setting, instance or "*"), value, default,
                                  lambda v: stack.imds.configure(instance, **{setting: v})))
    handle.notes.append(f"{kind} on imds as the IMDS {setting} setting"
                        + (f" of {instance}" if instance else " of every instance"))


def _imds(stack, handle: FaultHandle, instance: str | None = None) -> None:
    imds, who = stack.imds, instance or "*"
    if handle.kind == "outage":
        undo = stack.hold(("imds", "outage", who), True, False, lambda v: imds.set_outage(v, instance))
    elif handle.kind == "deny":
        undo = stack.hold(("imds", "http_endpoint", who), "disabled", "enabled",
                          lambda v: imds.configure(instance, http_endpoint=v))
        handle.notes.append("deny on imds: the metadata endpoint answers 403 (http_endpoint disabled)")
    else:
        rate, _ = _quota(handle.params)
        default = stack.imds_default("rate_limit")
        undo = stack.hold(("imds", "rate_limit", who), rate, default, lambda v: imds.set_limit(v, instance))
        handle.notes.append("throttle on imds: a per-instance request limit (429 when exceeded)")
    handle.undo.append(undo)


def _expire(stack, handle: FaultHandle) -> None:
    if handle.target == "imds":
        stack.imds.expire_tokens()
        return
    # Sync first so keys IMDS issued since the watcher's last turn are expired too.
    stack.sync_credentials()
    stack.imds.expire_credentials()
    stack.gate.expire_credentials()


def lift_fault(stack, handle: FaultHandle) -> None:
    """Undo a fault (newest change first); lifting twice, or after a reset, does nothing."""
    if not isinstance(handle, FaultHandle):
        raise InvalidInput(f"lift_fault: expected a FaultHandle from apply_fault, got {type(handle).__name__}")
    if handle.lifted_at is not None:
        return
    handle.lifted_at = time.time()
    stack.faults.pop(handle.id, None)
    if not stack.servers:
        return  # the stack stopped: nothing left to undo
    for undo in reversed(handle.undo):
        undo()


def lift_all(stack) -> None:
    for handle in list(stack.faults.values()):
        lift_fault(stack, handle)


def check_scenario(scenario) -> list[str]:
    """Every fault of ``scenario`` the fakes cannot apply, as one InvalidInput; else warnings.

    Warnings (returned): dependencies the scenario declares that no fake serves (the
    bootstrap may still call them; the stack will not see those calls), network faults on
    one operation that will hit the whole dependency, and a dependency ``network`` delay (a sim
    engine model).
    """
    problems, warnings = [], []
    for i, fault in enumerate(scenario.faults):
        data = fault.model_dump()
        params = {k: v for k, v in data.items() if k not in _SPEC_FIELDS}
        try:
            check_fault(fault.kind, fault.target, **params)
        except InvalidInput as exc:
            problems.append(f"faults.{i}: {exc}")
            continue
        if fault.kind in NETWORK_KINDS and "." in fault.target:
            warnings.append(f"faults.{i}: {fault.kind} on {fault.target!r} hits all of {fault.target.split('.')[0]}")
    for name, dep in scenario.dependencies.items():
        if name not in DEPENDENCY_FAKES:
            warnings.append(f"dependency {name!r} has no real fake; calls to it are not seen by the stack")
        if getattr(dep, "network", None) is not None:
            # The sim engine's wire delay has no counterpart here: real calls go over loopback.
            warnings.append(f"dependencies.{name}.network is modelled by the sim engine only; "
                            "here calls go over loopback (a latency fault delays them)")
    if problems:
        raise InvalidInput("the fakes stack cannot run this scenario's faults:\n  " + "\n  ".join(problems))
    return warnings
