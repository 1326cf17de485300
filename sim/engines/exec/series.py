"""What the fakes saw, as the Run's per-dependency time series.

Sources: the stack's request log (gate and IMDS entries: time, instance, service, operation,
status, error code, gate latency) and the sinks' events (registry: register, reregister,
duplicate, conflict, deregister; telemetry: every accepted event). Dependency names are the
fakes' service names (``imds``, ``secretsmanager``, ``ssm``, ``sts``, ``iam``, ``registry``,
``telemetry``), which are the names scenarios use for them.

``needed`` counts first tries (`sim.engines.exec.calls`): every call but a retry, which is a
call whose previous call of the same operation by the same instance failed. So the steady
calls a booted instance keeps making (an agent's heartbeats to telemetry, a second successful
PutToken) are first-try load, and offered falls back to needed once retries stop: that is
what ``time_to_drain`` waits for. The sinks record accepted events only: each is a first try,
except a ``register_duplicate`` (the same idempotency key again: a retry by definition) and a
registration after a ``register_conflict`` (a failed compare-and-set; counted failed).
A call the fakes cannot tie to an instance counts as a first try. A retry the client made
after its own timeout while the fake did answer looks like a first try here: the fake cannot
know the client gave up (a ``latency`` fault can hide retries that way).

What the fakes cannot see is estimated, and said so: a call held by a partition never reaches
a fake. `add_unanswered` counts, per partition window, each attempt that was alive during it
and had not yet been answered by that dependency as one ``timed_out`` call (the least it can
have made), at the moment the attempt ended or the window closed, unless the dependency's
first answer to it came within ``RELEASED_WITHIN`` of the lift (the held call went through
then, and the log counts it). Such a call is offered and
timed out, never served: every call is counted once, so the shares of a dependency add up
(served + throttled + failed + timed_out + rejected = offered).

Latency: the gate times every call it answers (histogram and in-flight from it); IMDS and the
sinks do not, so their histograms stay empty and ``peak_in_flight`` is 0 for them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable

from sim.engines.exec.calls import RetryRule
from sim.engines.live.series import add_peak_in_flight, series_book
from sim.results import DependencySeries, latency_bin

__all__ = ["build_series", "add_unanswered", "SINK_EVENT_DEPENDENCY", "THROTTLING_CODES", "RELEASED_WITHIN"]

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequests",
                              "RequestLimitExceeded"})
SINK_EVENT_DEPENDENCY = {
    "register": "registry", "reregister": "registry", "register_duplicate": "registry",
    "register_conflict": "registry", "deregister": "registry", "telemetry": "telemetry",
}
# The operation a sink event stands for: every kind of registration is a Register call.
_SINK_OPERATION = {"register": "Register", "reregister": "Register", "register_duplicate": "Register",
                   "register_conflict": "Register", "deregister": "Deregister"}
# A call a partition held goes on to the fake as soon as the partition lifts; a first answer
# this soon after the lift is that same call, not a retry made after a client-side timeout.
RELEASED_WITHIN = 1.0


def build_series(
    log: Iterable[dict[str, Any]],
    sink_events: Iterable[dict[str, Any]],
    *,
    t0_wall: float,
    horizon: float,
    interval: float,
    names: Iterable[str],
    capacity: dict[str, dict[str, Any]],
) -> dict[str, DependencySeries]:
    """Series for every dependency in ``names`` and every one seen in the log or sinks.

    Times are seconds since ``t0_wall`` (epoch seconds at the run's start).
    """
    series, get = series_book(names, interval, horizon, capacity)
    rule = RetryRule()
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in sorted(log, key=lambda e: e["time"]):
        name = e["service"]
        s = get(name)
        t = e["time"] - t0_wall
        if t < 0:
            continue
        i = s.slot(t)
        c = s.counts
        c["offered"][i] += 1
        if _first_try(rule, e["instance_id"], name, e["operation"], e):
            c["needed"][i] += 1
        status, code = int(e["status"] or 0), e.get("error_code")
        if code in THROTTLING_CODES or status == 429:
            c["throttled"][i] += 1
        elif 0 < status < 400:
            c["served"][i] += 1
        else:
            c["failed"][i] += 1
        latency_ms = e.get("latency_ms")
        if latency_ms is not None:
            seconds = latency_ms / 1000.0
            s.latency_hist[i, latency_bin(seconds)] += 1
            spans[name].append((t, t + seconds))
    for e in sorted(sink_events, key=lambda e: e["time"]):
        kind = e.get("type", "")
        name = SINK_EVENT_DEPENDENCY.get(kind)
        if name is None:
            continue
        s = get(name)
        t = e["time"] - t0_wall
        if t < 0:
            continue
        i = s.slot(t)
        s.counts["offered"][i] += 1
        conflict = kind == "register_conflict"
        s.counts["failed" if conflict else "served"][i] += 1
        call = {"status": 409 if conflict else 200}
        first = _first_try(rule, e["instance_id"], name, _SINK_OPERATION.get(kind, kind), call)
        if first and kind != "register_duplicate":  # a repeated idempotency key: a retry by definition
            s.counts["needed"][i] += 1
    for name, intervals in spans.items():
        add_peak_in_flight(series[name], intervals)
    return series


def _first_try(rule: RetryRule, instance_id, dependency: str, operation: str, call) -> bool:
    """Not a retry (`RetryRule`); a call no instance can be named for counts as a first try."""
    if instance_id is None:
        return True
    return not rule.is_retry((instance_id, dependency, operation), call)


def add_unanswered(
    series: dict[str, DependencySeries],
    windows: Iterable[tuple[str, float, float]],
    attempts: Iterable[tuple[str, float, float]],
    answered: dict[tuple[str, str], float],
) -> int:
    """Estimate calls lost in partitions; returns how many were added.

    ``windows``: (dependency, start, end) of each partition as applied; ``attempts``:
    (instance id, start, end) of each attempt; ``answered``: (instance id, dependency) -> time
    of the first answer that dependency gave that instance.
    """
    added = 0
    for dependency, w_start, w_end in windows:
        s = series.get(dependency)
        if s is None:
            continue
        for instance_id, start, end in attempts:
            if start >= w_end or end <= w_start:
                continue
            first = answered.get((instance_id, dependency), math.inf)
            if first <= w_start:
                continue  # it had what it needed from this dependency before the partition
            if w_end <= first <= w_end + RELEASED_WITHIN:
                # The held call itself reached the fake when the partition lifted (a client
                # with no timeout still waiting): the log counts it, slow but answered.
                continue
            t = min(end, w_end)
            i = s.slot(max(t, 0.0))
            # A lost call is an offered call that timed out: counted once, in offered and
            # timed_out, never served (so goodput and timed_out_share add up).
            s.counts["offered"][i] += 1
            s.counts["timed_out"][i] += 1
            if (instance_id, dependency) not in answered:
                s.counts["needed"][i] += 1  # its only call: the one the partition held
            added += 1
    return added
