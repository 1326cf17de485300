"""What the registry and telemetry sinks remember, stamped on arrival by the server's clocks.

Every accepted request becomes an event ``{seq, time, monotonic, type, instance_id, ...}``:
``time`` is ``time.time()``, ``monotonic`` is ``time.monotonic()`` (CLOCK_MONOTONIC is shared
by every process on the machine, so the harness can compare it with its own). Event types:
``register``, ``reregister``, ``register_duplicate``, ``register_conflict``, ``deregister``,
``telemetry``.

Registration: membership is keyed by instance id and carries a version that grows with every
accepted write. A request repeating an idempotency key (or, without a key, an instance id
already registered) is a duplicate: counted, answered like the original, not stored again.
A request carrying ``expected_version`` is a compare-and-set: if another write landed since the
version it read, it fails with 409.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["SinkStore", "Rejected", "SOURCES"]

SOURCES = ("agent", "app")


class Rejected(Exception):
    """A request the sink refuses: carries the HTTP status and a JSON-able body."""

    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body


@dataclass
class _Summary:
    instance_id: str
    registered_at: float | None = None
    registered_monotonic: float | None = None
    first_agent_event: float | None = None
    first_agent_monotonic: float | None = None
    first_app_event: float | None = None
    first_app_monotonic: float | None = None
    duplicate_registrations: int = 0
    reregistrations: int = 0
    conflicts: int = 0
    agent_events: int = 0
    app_events: int = 0

    def public(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SinkStore:
    cas_required: bool = False  # registrations without expected_version get 428
    events: list[dict] = field(default_factory=list)
    members: dict[str, dict] = field(default_factory=dict)
    version: int = 0
    _answers: dict[str, dict] = field(default_factory=dict)  # idempotency key -> first answer
    _summaries: dict[str, _Summary] = field(default_factory=dict)

    def _event(self, event_type: str, instance_id: str, **extra) -> dict:
        ev = {"seq": len(self.events) + 1, "time": time.time(), "monotonic": time.monotonic(),
              "type": event_type, "instance_id": instance_id, **extra}
        self.events.append(ev)
        return ev

    def _summary(self, instance_id: str) -> _Summary:
        s = self._summaries.get(instance_id)
        if s is None:
            s = self._summaries[instance_id] = _Summary(instance_id)
        return s

    @staticmethod
    def _instance_id(body: dict) -> str:
        iid = body.get("instance_id")
        if not isinstance(iid, str) or not iid:
            raise Rejected(400, {"error": f"instance_id: expected a non-empty string, got {iid!r}"})
        return iid

    def register(self, body: dict, idempotency_key: str | None = None) -> tuple[int, dict]:
        iid = self._instance_id(body)
        key = idempotency_key or body.get("idempotency_key") or f"instance:{iid}"
        summary = self._summary(iid)
        if key in self._answers:
            summary.duplicate_registrations += 1
            ev = self._event("register_duplicate", iid, idempotency_key=key)
            return 200, {**self._answers[key], "duplicate": True, "seq": ev["seq"]}
        expected = body.get("expected_version")
        if expected is None and self.cas_required:
            raise Rejected(428, {"error": "expected_version is required (compare-and-set mode)",
                                 "current_version": self.version})
        if expected is not None and expected != self.version:
            summary.conflicts += 1
            self._event("register_conflict", iid, expected_version=expected, current_version=self.version)
            raise Rejected(409, {"error": f"membership changed: expected version {expected}, "
                                          f"current version {self.version}",
                                 "current_version": self.version})
        again = iid in self.members
        self.version += 1
        ev = self._event("reregister" if again else "register", iid, idempotency_key=key, version=self.version)
        data = {k: v for k, v in body.items() if k not in ("instance_id", "idempotency_key", "expected_version")}
        self.members[iid] = {"instance_id": iid, "registered_at": ev["time"], "registered_monotonic": ev["monotonic"],
                             "version": self.version, "idempotency_key": key, "data": data}
        if again:
            summary.reregistrations += 1
        if summary.registered_at is None:
            summary.registered_at, summary.registered_monotonic = ev["time"], ev["monotonic"]
        answer = {"registered": True, "instance_id": iid, "version": self.version,
                  "registered_at": ev["time"], "duplicate": False}
        self._answers[key] = answer
        return 201, {**answer, "seq": ev["seq"]}

    def deregister(self, instance_id: str, expected: int | None = None) -> dict:
        if instance_id not in self.members:
            raise Rejected(404, {"error": f"{instance_id} is not registered"})
        if expected is not None and expected != self.version:
            raise Rejected(409, {"error": f"membership changed: expected version {expected}, "
                                          f"current version {self.version}", "current_version": self.version})
        del self.members[instance_id]
        self.version += 1
        ev = self._event("deregister", instance_id, version=self.version)
        return {"deregistered": instance_id, "version": self.version, "seq": ev["seq"]}

    def telemetry(self, body: dict) -> dict:
        iid = self._instance_id(body)
        source = body.get("source")
        if source not in SOURCES:
            raise Rejected(400, {"error": f"source: expected one of {list(SOURCES)}, got {source!r}"})
        kind = body.get("kind", "metric")
        if not isinstance(kind, str):
            raise Rejected(400, {"error": f"kind: expected a string, got {kind!r}"})
        extra = {k: v for k, v in body.items() if k not in ("instance_id", "source", "kind")}
        ev = self._event("telemetry", iid, source=source, kind=kind, data=extra)
        s = self._summary(iid)
        if source == "agent":
            s.agent_events += 1
            if s.first_agent_event is None:
                s.first_agent_event, s.first_agent_monotonic = ev["time"], ev["monotonic"]
        else:
            s.app_events += 1
            if s.first_app_event is None:
                s.first_app_event, s.first_app_monotonic = ev["time"], ev["monotonic"]
        return {"accepted": True, "seq": ev["seq"], "time": ev["time"]}

    def events_since(self, since: int = 0, instance_id: str | None = None, kind: str | None = None,
                     limit: int = 50_000) -> list[dict]:
        out = []
        for ev in self.events[max(0, since):]:  # seq n sits at index n-1
            if instance_id is not None and ev["instance_id"] != instance_id:
                continue
            if kind is not None and ev["type"] != kind:
                continue
            out.append(ev)
            if len(out) >= limit:
                break
        return out

    def summary(self) -> dict[str, dict]:
        return {iid: s.public() for iid, s in self._summaries.items()}

    def membership(self) -> dict:
        return {"version": self.version, "members": list(self.members.values())}

    def reset(self) -> None:
        self.events.clear()
        self.members.clear()
        self._answers.clear()
        self._summaries.clear()
        self.version = 0
        self.cas_required = False
