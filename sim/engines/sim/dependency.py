"""A dependency as the model serves it: workers, a queue, quotas, faults, and its time series.

Every answer reaches the caller through a scheduled event, never synchronously from ``call``,
so a retry loop cannot recurse. Statistics stream into per-interval counters and a latency
histogram; no call is kept.
"""

from __future__ import annotations

import math
from collections import deque
from math import log10 as _log10

import numpy as np

from sim.results import N_BINS as _N_BINS
from sim.results import DependencySeries, latency_bin
from sim.results.histogram import BINS_PER_DECADE, LOG_LOW

__all__ = ["DependencyModel", "Request", "OK", "TIMEOUT", "FAST_ERROR_DELAY"]

OK = "OK"
TIMEOUT = "Timeout"
# How long a fast failure (throttle, outage, deny) takes to come back: one loopback-ish RTT.
FAST_ERROR_DELAY = 0.002

_WAITING, _SERVING, _DONE, _ABORTED = 0, 1, 2, 3


class Request:
    """One attempt of one call, while the dependency knows about it."""

    __slots__ = ("op", "boot", "on_done", "arrival", "state", "read_version", "answered")

    def __init__(self, op, boot, on_done, arrival):
        self.op = op
        self.boot = boot
        self.on_done = on_done  # callable(request, code)
        self.arrival = arrival
        self.state = _WAITING
        self.read_version = -1  # the compare-and-set version read; -1: not read yet
        self.answered = False  # the caller has its answer (or gave up)


class OpFaults:
    """Faults in force on one operation (dependency-wide faults apply to each of its ops)."""

    __slots__ = ("partition", "outage", "deny", "reset", "error_rates", "latencies", "slow",
                 "quota", "active")

    def __init__(self):
        self.active = 0  # faults in force: 0 lets the hot path skip every check below
        self.partition = 0
        self.outage = 0
        self.deny = 0
        self.reset = 0
        self.error_rates: list[float] = []
        self.latencies: list[float] = []
        self.slow: list[float] = []
        self.quota: list[tuple[float, float]] = []


class DependencyModel:
    def __init__(self, clock, rng, name, spec, ops, op_indexes, interval, horizon, capacity_rps):
        self.clock = clock
        self.later = clock.later
        self.rng = rng
        self.name = name
        self.concurrency = spec.concurrency
        self.queue_limit = spec.queue_limit if spec.queue_limit is not None else math.inf
        from sim.distributions import sampler

        self.service = sampler(spec.service_time)
        self.k = spec.latency_per_in_flight
        self.per_instance_rate = spec.per_instance_rate
        self.continue_after_timeout = spec.continue_after_timeout
        self.ops = ops  # all compiled ops (indexed globally)
        self.busy = 0
        self.queue: deque[Request] = deque()
        self.waiting = 0  # queued requests whose callers still wait or whose work continues
        self.faults = {i: OpFaults() for i in op_indexes}
        self.buckets = {}  # op index -> [tokens, last_refill, rate, capacity]
        for i in op_indexes:
            q = ops[i].quota
            if q is not None:
                self.buckets[i] = [q[1], 0.0, q[0], q[1]]
        self.versions = {i: 0 for i in op_indexes}  # compare-and-set state per op
        self.interval = interval
        n = max(1, int(math.ceil(horizon / interval)))
        self.n = n
        self.capacity_rps = capacity_rps
        self.offered = [0] * n
        self.needed = [0] * n
        self.served = [0] * n
        self.throttled = [0] * n
        self.failed = [0] * n
        self.timed_out = [0] * n
        self.rejected = [0] * n
        self.wasted = [0] * n
        self.bytes = [0] * n
        self.peak = [0] * n
        self.hist = [0] * (n * _N_BINS)
        self._fast_callbacks: dict = {}
        self.on_idle = None  # called when the last call in service finishes and none wait

    # -- the call -----------------------------------------------------------------------
    def call(self, op_index, boot, on_done, timeout, first, auth_error, req=None):
        """Send one attempt; ``on_done(request, code)`` comes later through an event.

        ``auth_error`` is the error the service answers when the caller's credential is bad
        (``ExpiredTokenException``, ``Unauthorized``), or None. ``req``: a request that has
        just arrived over a network (``sim.engines.sim.network``); None makes one.
        """
        now = self.clock._now
        slot = int(now / self.interval)
        if slot >= self.n:
            slot = self.n - 1
        self.offered[slot] += 1
        if first:
            self.needed[slot] += 1
        if req is None:
            req = Request(op_index, boot, on_done, now)
        later = self.later
        f = self.faults[op_index]
        code = None
        if f.active:
            if f.partition:
                # No answer ever comes: the caller's timeout is all that ends the attempt.
                if timeout != math.inf:
                    later(timeout, self._on_partition_timeout, req)
                return req
            if f.reset:
                code = "ConnectionReset"
            elif f.outage:
                code = "ServiceUnavailable"
            elif auth_error is not None:
                code = auth_error
            elif f.deny:
                code = "AccessDenied"
            elif f.error_rates and self.rng.random() < max(f.error_rates):
                code = "InternalError"
        elif auth_error is not None:
            code = auth_error
        if code is not None:
            pass
        elif self.per_instance_rate is not None and not self._take_instance_token(boot, now):
            code = "TooManyRequestsException"
        elif op_index in self.buckets and not self._take_quota_token(op_index, now):
            code = self.ops[op_index].throttle_code
        if code is not None:
            delay = FAST_ERROR_DELAY + (sum(f.latencies) if f.latencies else 0.0)
            req.state = _DONE
            if delay > timeout:
                later(timeout, self._on_caller_timeout, req)
            else:
                later(delay, self._fast_answer_callback(code), req)
            return req
        if self.busy < self.concurrency:
            duration = self._serve(req, now, slot)
            if duration <= timeout:
                return req  # the answer comes before the caller's timeout: one event only
        elif self.waiting >= self.queue_limit:
            req.state = _DONE
            later(FAST_ERROR_DELAY, self._on_rejected, req)
            return req
        else:
            self.queue.append(req)
            self.waiting += 1
        if timeout != math.inf:
            later(timeout, self._on_caller_timeout, req)
        return req

    # -- token buckets ------------------------------------------------------------------
    def _take_quota_token(self, op_index, now):
        b = self.buckets[op_index]
        f = self.faults[op_index]
        if f.quota:
            rate, cap = f.quota[-1]
        else:
            rate, cap = b[2], b[3]
            if rate == math.inf:  # a throttle fault came and went; no quota of its own
                return True
        return _take_token(b, rate, cap, now)

    def _take_instance_token(self, boot, now):
        rate = self.per_instance_rate
        b = boot.limits.get(self.name) if boot.limits else None
        if b is None:
            if boot.limits is None:
                boot.limits = {}
            b = boot.limits[self.name] = [rate, now]
        return _take_token(b, rate, rate, now)

    # -- service ------------------------------------------------------------------------
    def _serve(self, req, now, slot):
        op_index = req.op
        op = self.ops[op_index]
        duration = (op.service or self.service)(self.rng)
        if self.k:
            duration += self.k * self.busy
        if op.bandwidth:
            duration += op.bytes / op.bandwidth
        f = self.faults[op_index]
        if f.active:
            if f.slow:
                duration *= max(f.slow)
            if f.latencies:
                duration += sum(f.latencies)
        busy = self.busy = self.busy + 1
        req.state = _SERVING
        if op.cas and req.read_version < 0:  # over a network the read came a round trip before
            req.read_version = self.versions[op_index]
        if busy > self.peak[slot]:
            self.peak[slot] = busy
        self.later(duration, self._on_complete, req)
        return duration

    def _on_complete(self, req):
        if req.state == _ABORTED:  # its caller gave up and the server dropped the work
            return
        now = self.clock._now
        self.busy -= 1
        op_index = req.op
        op = self.ops[op_index]
        code = OK
        if op.cas:
            if self.versions[op_index] != req.read_version:
                code = "ConditionalCheckFailed"
            else:
                self.versions[op_index] += 1
        slot = int(now / self.interval)
        if slot >= self.n:
            slot = self.n - 1
        if req.answered:
            self.wasted[slot] += 1
        else:
            req.answered = True
            if code is OK:
                self.served[slot] += 1
                # latency_bin(), inlined: this runs once per call served
                latency = now - req.arrival
                if latency <= 1e-4:
                    b = 0
                else:
                    b = int((_log10(latency) - LOG_LOW) * BINS_PER_DECADE) + 1
                    if b >= _N_BINS:
                        b = _N_BINS - 1
                self.hist[slot * _N_BINS + b] += 1
                if op.bytes:
                    self.bytes[slot] += op.bytes
            else:
                self._record(slot, now - req.arrival, code)
            req.on_done(req, code)
        req.state = _DONE
        if self.queue or self.busy == 0:
            self._next(now)

    def _next(self, now):
        queue = self.queue
        slot = None
        while queue and self.busy < self.concurrency:
            nxt = queue.popleft()
            self.waiting -= 1
            if nxt.answered and not self.continue_after_timeout:
                continue
            if slot is None:
                slot = self._slot(now)
            self._serve(nxt, now, slot)
        if self.busy == 0 and self.on_idle is not None:
            self.on_idle()

    @property
    def idle(self) -> bool:
        return self.busy == 0 and not self.queue

    # -- answers ------------------------------------------------------------------------
    def _slot(self, now):
        slot = int(now / self.interval)
        return slot if slot < self.n else self.n - 1

    def _record(self, slot, latency, code):
        if code is OK:
            self.served[slot] += 1
        elif code == "ConditionalCheckFailed" or code not in _THROTTLES:
            self.failed[slot] += 1
        else:
            self.throttled[slot] += 1
        self.hist[slot * _N_BINS + latency_bin(latency)] += 1

    def _fast_answer_callback(self, code):
        """One callback per error code, made once: the event carries only the request."""
        cb = self._fast_callbacks.get(code)
        if cb is None:
            def cb(req, code=code):
                if req.answered:
                    return
                req.answered = True
                now = self.clock._now
                self._record(self._slot(now), now - req.arrival, code)
                req.on_done(req, code)

            self._fast_callbacks[code] = cb
        return cb

    def _on_rejected(self, req):
        if req.answered:
            return
        req.answered = True
        now = self.clock._now
        self.rejected[self._slot(now)] += 1
        req.on_done(req, "ServiceUnavailable")

    def _on_caller_timeout(self, req):
        if req.answered:
            return
        req.answered = True
        now = self.clock._now
        self.timed_out[self._slot(now)] += 1
        if req.state == _SERVING and not self.continue_after_timeout:
            req.state = _ABORTED  # the completion event is now stale
            self.busy -= 1
            self._next(now)
        req.on_done(req, TIMEOUT)

    def _on_partition_timeout(self, req):
        req.answered = True
        self.timed_out[self._slot(self.clock._now)] += 1
        req.on_done(req, TIMEOUT)

    # -- results ------------------------------------------------------------------------
    def series(self, end: float) -> DependencySeries:
        # The interval holding `end` is included: what happened at the last instant counts.
        n = max(1, min(self.n, int(end / self.interval) + 1))
        counts = {
            "offered": self.offered, "needed": self.needed, "served": self.served,
            "throttled": self.throttled, "failed": self.failed, "timed_out": self.timed_out,
            "rejected": self.rejected, "wasted": self.wasted, "bytes": self.bytes,
            "peak_in_flight": self.peak,
        }
        arrays = {k: np.asarray(v[:n], dtype=np.int64) for k, v in counts.items()}
        hist = np.asarray(self.hist[: n * _N_BINS], dtype=np.int64).reshape(n, _N_BINS)
        return DependencySeries(self.name, self.interval, n, arrays, hist, self.capacity_rps)


def _take_token(bucket, rate, cap, now):
    """Token bucket ``[tokens, last_refill, ...]``: refill to ``now``, take one if there is one."""
    tokens = bucket[0] + (now - bucket[1]) * rate
    if tokens > cap:
        tokens = cap
    bucket[1] = now
    if tokens >= 1.0:
        bucket[0] = tokens - 1.0
        return True
    bucket[0] = tokens
    return False


_THROTTLES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
