"""A call a fake logged, as the exec engine judges it: failed or not, first try or retry.

The exec engine cannot see a script's logical calls, only what reached the fakes. One rule
decides which calls are retries, for the attempt table's ``retries``, the
``synchronized_retries`` finding and the dependency series' ``needed`` (first tries): a
**retry** is a call whose previous call of the same operation by the same instance failed;
every other call is a **first try** (two successful PutToken calls are two first tries, and an
agent's steady heartbeats are first tries, not retry load). A call failed when it has an error
code, a status >= 400, or no numeric status.

Request dicts (findings' ``AttemptEvidence.requests`` and ``fleet_findings``) have
run-relative ``t`` (seconds; the gate stamps a call on arrival, IMDS when it answers),
``service``, ``operation``, ``status``, ``error_code``, ``latency`` (seconds or None), and for
the fleet ``instance_id``. `requests_from_log` turns ``fakes.stack`` request-log entries into
that shape (keeping ``source``, the fake that logged it).
"""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

__all__ = ["requests_from_log", "failed_call", "RetryRule"]


def requests_from_log(entries: Iterable[Mapping], run_start: float) -> list[dict]:
    """``fakes.stack`` request-log entries (epoch ``time``, ``latency_ms``) as request dicts."""
    out = []
    for e in entries:
        ms = e.get("latency_ms")
        out.append({
            "t": e["time"] - run_start,
            "instance_id": e.get("instance_id"),
            "service": e["service"],
            "operation": e["operation"],
            "status": e.get("status"),
            "error_code": e.get("error_code"),
            "latency": None if ms is None else ms / 1000.0,
            "source": e.get("source"),  # which fake logged it, for validity.peak_rates
        })
    return out


def failed_call(req: Mapping) -> bool:
    """An error answer: an error code, a status >= 400, or no HTTP status at all."""
    status = req.get("status")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    return bool(req.get("error_code")) or not isinstance(status, int) or status == 0 or status >= 400


class RetryRule:
    """Feed it one party's calls in time order: ``is_retry`` says whether each is a retry."""

    def __init__(self) -> None:
        self._last_failed: dict[Hashable, bool] = {}

    def is_retry(self, key: Hashable, call: Mapping) -> bool:
        """Whether ``call`` retries a failed call of the same ``key`` (instance, operation)."""
        retry = self._last_failed.get(key, False)
        self._last_failed[key] = failed_call(call)
        return retry
