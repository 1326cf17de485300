"""The gate's rules: what it answers instead of moto, decided per call with no I/O.

Each rule matches calls by service (``"*"`` for any), optionally an operation, an instance id
and an access key, and is one of these kinds, checked in this order (AWS's own order: the front
door, then authorization, then quotas, then the service itself):

    outage      every matching call gets a fast 503 ServiceUnavailable
    deny        AccessDenied(Exception)
    quota       token bucket (``rate`` per second, ``burst``); empty bucket -> throttling error
    throttle    the same as a fault on the timeline: ``rate`` defaults to 0 (throttle every call)
    fail_first  the next ``count`` matching calls fail with ``status`` (500 or 503)
    error_rate  each matching call fails with probability ``probability`` and ``status``

Expired credentials are checked between outage and deny (see ``credentials``). A rule is built
from control-API JSON by ``parse_rule``, which names the bad field on bad input.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from fakes.gate.protocol import Call

__all__ = ["RuleError", "Rule", "RuleSet", "parse_rule", "KINDS"]

KINDS = ("outage", "deny", "quota", "throttle", "fail_first", "error_rate")
_BUCKET_KINDS = ("quota", "throttle")
_FAILURE_OF_STATUS = {500: "internal", 503: "unavailable"}
_COMMON = {"kind", "service", "operation", "instance_id", "access_key"}
_PARAMS = {
    "outage": set(),
    "deny": set(),
    "quota": {"rate", "burst"},
    "throttle": {"rate", "burst"},
    "fail_first": {"count", "status"},
    "error_rate": {"probability", "status"},
}


class RuleError(ValueError):
    """Control input that does not describe a rule; the message names the field."""


@dataclass
class Rule:
    id: str
    kind: str
    service: str
    operation: str | None = None
    instance_id: str | None = None
    access_key: str | None = None
    rate: float = 0.0
    burst: float = 0.0
    tokens: float = 0.0
    refilled_at: float = 0.0
    remaining: int = 0
    probability: float = 0.0
    status: int = 500
    hits: int = 0  # calls this rule answered instead of moto

    def matches(self, call: Call) -> bool:
        return (
            (self.service == "*" or self.service == call.service)
            and (self.operation is None or self.operation == call.operation)
            and (self.instance_id is None or self.instance_id == call.instance_id)
            and (self.access_key is None or self.access_key == call.access_key)
        )

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "service": self.service}
        for name in ("operation", "instance_id", "access_key"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.kind in _BUCKET_KINDS:
            out.update(rate=self.rate, burst=self.burst, tokens=round(self.tokens, 3))
        elif self.kind == "fail_first":
            out.update(remaining=self.remaining, status=self.status)
        elif self.kind == "error_rate":
            out.update(probability=self.probability, status=self.status)
        out["hits"] = self.hits
        return out


def _number(spec: dict, name: str, default: float | None = None, low: float = 0.0, high: float = math.inf) -> float:
    value = spec.get(name, default)
    if value is None:
        raise RuleError(f"{spec['kind']} rule: field {name!r} is required (a number >= {low:g})")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        bound = f"between {low:g} and {high:g}" if high != math.inf else f">= {low:g}"
        raise RuleError(f"{spec['kind']} rule: field {name!r} must be a number {bound}, got {value!r}")
    return float(value)


def _status(spec: dict, default: int) -> int:
    status = spec.get("status", default)
    if status not in _FAILURE_OF_STATUS:
        raise RuleError(
            f"{spec['kind']} rule: field 'status' must be one of {sorted(_FAILURE_OF_STATUS)}, got {status!r}"
        )
    return int(status)


def parse_rule(rule_id: str, spec: Any, now: float) -> Rule:
    """A Rule from control-API JSON, or RuleError naming what was expected and what was given."""
    if not isinstance(spec, dict):
        raise RuleError(f"a rule must be a JSON object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise RuleError(f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(spec) - _COMMON - _PARAMS[kind]
    if unknown:
        allowed = sorted(_COMMON | _PARAMS[kind])
        raise RuleError(f"{kind} rule: unknown fields {sorted(unknown)}; allowed: {allowed}")
    for name in ("service", "operation", "instance_id", "access_key"):
        value = spec.get(name)
        if (name == "service" or value is not None) and (not isinstance(value, str) or not value):
            raise RuleError(f"{kind} rule: field {name!r} must be a non-empty string, got {value!r}")
    rule = Rule(
        id=rule_id,
        kind=kind,
        service=spec["service"],
        operation=spec.get("operation"),
        instance_id=spec.get("instance_id"),
        access_key=spec.get("access_key"),
    )
    if kind in _BUCKET_KINDS:
        rule.rate = _number(spec, "rate", default=0.0 if kind == "throttle" else None)
        rule.burst = _number(spec, "burst", default=max(1.0, rule.rate) if rule.rate > 0 else 0.0)
        if rule.rate > 0 and rule.burst < 1:
            raise RuleError(f"{kind} rule: 'burst' must be >= 1 when 'rate' > 0, got {rule.burst!r}")
        rule.tokens, rule.refilled_at = rule.burst, now
    elif kind == "fail_first":
        count = spec.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise RuleError(f"fail_first rule: field 'count' must be an integer >= 1, got {count!r}")
        rule.remaining, rule.status = count, _status(spec, 500)
    elif kind == "error_rate":
        rule.probability = _number(spec, "probability", high=1.0)
        rule.status = _status(spec, 500)
    return rule


@dataclass
class RuleSet:
    """Every active rule, in the order they were added; ``check`` is the per-call decision."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    rules: dict[str, Rule] = field(default_factory=dict)
    _next_id: int = 1

    def add(self, spec: Any, now: float) -> Rule:
        rule = parse_rule(f"r{self._next_id}", spec, now)
        self._next_id += 1
        self.rules[rule.id] = rule
        return rule

    def remove(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def clear(self, kind: str | None = None, service: str | None = None) -> int:
        doomed = [
            r.id
            for r in self.rules.values()
            if (kind is None or r.kind == kind) and (service is None or r.service == service)
        ]
        for rule_id in doomed:
            del self.rules[rule_id]
        return len(doomed)

    def check_front(self, call: Call) -> str | None:
        """Failure kind from an outage rule, checked before credentials."""
        for rule in self.rules.values():
            if rule.kind == "outage" and rule.matches(call):
                rule.hits += 1
                return "unavailable"
        return None

    def check(self, call: Call, now: float) -> str | None:
        """Failure kind ("denied", "throttled", "internal", "unavailable") or None to forward."""
        if not self.rules:
            return None
        matching = [r for r in self.rules.values() if r.kind != "outage" and r.matches(call)]
        if not matching:
            return None
        for rule in matching:
            if rule.kind == "deny":
                rule.hits += 1
                return "denied"
        quotas = [r for r in matching if r.kind in _BUCKET_KINDS]
        for rule in quotas:
            rule.refill(now)
        empty = next((r for r in quotas if r.tokens < 1.0), None)
        if empty is not None:
            empty.hits += 1
            return "throttled"
        for rule in quotas:  # only spend tokens when every bucket the call is under has one
            rule.tokens -= 1.0
        for rule in matching:
            if rule.kind == "fail_first" and rule.remaining > 0:
                rule.remaining -= 1
                rule.hits += 1
                return _FAILURE_OF_STATUS[rule.status]
        for rule in matching:
            if rule.kind == "error_rate" and self.rng.random() < rule.probability:
                rule.hits += 1
                return _FAILURE_OF_STATUS[rule.status]
        return None
