"""What the stack saw: one request log over the gate and IMDS, and each fake's capacity.

Every entry of `request_log` has the same keys, whichever fake recorded it::

    time (epoch s), instance_id, service, operation, status, error_code, latency_ms, source

IMDS does not time its answers, so its ``latency_ms`` is None; its ``error_code`` is the HTTP
reason (``Unauthorized`` for a 401), as IMDS sends no AWS error code.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = ["request_log", "imds_operation", "capacity", "CAPACITY"]

# Requests per second one fake process handles on the 2-core development machine, rounded
# down (the bootstraps share the cores). Sources: GATE_* in fakes/gate/server.py; IMDS_* in
# fakes/imds/server.py (both measured by their benchmarks); toxiproxy from
# tests/benchmarks/bench_toxiproxy.py; sinks share the aiohttp design of IMDS, unmeasured.
CAPACITY: dict[str, dict[str, Any]] = {
    "gate": {"rps": None, "note": "answered by the gate itself (throttled, denied, injected errors)"},
    "moto": {"rps": None, "note": "AWS calls forwarded through the gate to one moto process"},
    "imds": {"rps": None, "fresh_connection_rps": None,
             "note": "keep-alive GETs; curl-style new connections"},
    "sinks": {"rps": 1500, "note": "estimate (same aiohttp server design as IMDS, not benchmarked)"},
    "toxiproxy": {"rps": None, "note": "one hop adds well under 1 ms; not the bottleneck at these rates"},
}


def capacity() -> dict[str, dict[str, Any]]:
    """Each fake's documented capacity, so an engine can warn when a fake limits a run."""
    from fakes.gate import GATE_CAPACITY_RPS, PROXIED_CAPACITY_RPS
    from fakes.imds import IMDS_CAPACITY_FRESH_RPS, IMDS_CAPACITY_RPS

    out = {name: dict(row) for name, row in CAPACITY.items()}
    out["gate"]["rps"] = GATE_CAPACITY_RPS
    out["moto"]["rps"] = PROXIED_CAPACITY_RPS
    out["imds"]["rps"] = IMDS_CAPACITY_RPS
    out["imds"]["fresh_connection_rps"] = IMDS_CAPACITY_FRESH_RPS
    return out


def imds_operation(method: str, path: str) -> str:
    """The operation name the scenarios use for an IMDS request path."""
    if method == "PUT" and path.endswith("/api/token"):
        return "PutToken"
    if "/iam/security-credentials" in path:
        return "GetCredentials" if not path.rstrip("/").endswith("security-credentials") else "ListRoles"
    if "/dynamic/instance-identity" in path:
        return "GetIdentityDocument"
    if path.endswith("/user-data"):
        return "GetUserData"
    return "GetMetadata"


def _reason(status: int) -> str | None:
    if status < 400:
        return None
    try:
        return HTTPStatus(status).phrase.replace(" ", "")
    except ValueError:
        return str(status)


def request_log(stack, since: float = 0.0) -> list[dict[str, Any]]:
    """Gate and IMDS entries with ``time >= since`` (epoch seconds), oldest first."""
    merged: list[dict[str, Any]] = []
    for entry in stack.gate.entries(0):
        if entry["time"] >= since:
            merged.append({
                "time": entry["time"],
                "instance_id": entry["instance_id"],
                "service": entry["service"],
                "operation": entry["operation"],
                "status": entry["status"],
                "error_code": entry["error_code"],
                "latency_ms": entry["latency_ms"],
                "source": "gate",
            })
    for entry in stack.imds.log(0):
        if entry["time"] >= since:
            status = int(entry["status"]) if str(entry["status"]).isdigit() else 0
            merged.append({
                "time": entry["time"],
                "instance_id": entry["instance_id"],
                "service": "imds",
                "operation": imds_operation(entry["method"], entry["path"]),
                "status": status,
                "error_code": _reason(status) if status else str(entry["status"]),
                "latency_ms": None,
                "source": "imds",
            })
    merged.sort(key=lambda e: e["time"])
    return merged
