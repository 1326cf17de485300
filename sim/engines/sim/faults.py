"""The fault timeline in the model: each fault switched on at ``at`` and off at its end.

Dependency-wide faults apply to each of the dependency's operations; overlapping faults stack
(counters for on/off kinds, lists for valued ones: the largest error rate, the sum of added
latencies, the largest slow-down, the latest quota).
"""

from __future__ import annotations

import math

from sim.results import FaultWindow

__all__ = ["schedule_faults"]


def schedule_faults(engine) -> list[FaultWindow]:
    """Put every fault of the scenario on the engine's clock; returns the windows as applied."""
    windows = []
    for spec in engine.scenario.faults:
        end = min(spec.end, engine.horizon)
        params = spec.model_dump(mode="json", exclude={"at", "for_", "target", "kind"})
        windows.append(FaultWindow(spec.kind, spec.target, spec.at, end, params))
        engine.later(spec.at, _on, (engine, spec))
        if spec.end < engine.horizon:
            engine.later(spec.end, _off, (engine, spec))
    return windows


def _on(value):
    engine, spec = value
    _apply(engine, spec, +1)


def _off(value):
    engine, spec = value
    _apply(engine, spec, -1)


def _targets(engine, spec):
    dep_name, _, op = spec.target.partition(".")
    dep = engine.deps[engine.model.dep_names.index(dep_name)]
    if op:
        return dep, [engine.model.op_index[spec.target]]
    return dep, list(dep.faults)


def _apply(engine, spec, sign):
    kind = spec.kind
    now = engine.clock._now
    if kind == "expire_credentials":
        if sign > 0:
            if spec.target == "imds":
                engine.token_revoked_before = now
            else:
                engine.creds_revoked_before = now
        return
    dep, ops = _targets(engine, spec)
    for i in ops:
        f = dep.faults[i]
        f.active += sign
        if kind in ("partition", "outage", "deny", "reset"):
            setattr(f, kind, getattr(f, kind) + sign)
        elif kind == "error_rate":
            _toggle(f.error_rates, spec.rate, sign)
        elif kind == "latency":
            _toggle(f.latencies, spec.latency, sign)
        elif kind == "slow_bandwidth":
            _toggle(f.slow, spec.factor, sign)
        elif kind == "throttle":
            q = (spec.quota.rate, spec.quota.capacity)
            _toggle(f.quota, q, sign)
            if sign > 0:
                if i not in dep.buckets:  # no quota of its own: unlimited once lifted
                    dep.buckets[i] = [q[1], now, math.inf, math.inf]
                b = dep.buckets[i]
                b[0] = min(b[0], q[1])


def _toggle(values: list, value, sign: int) -> None:
    if sign > 0:
        values.append(value)
    else:
        values.remove(value)
