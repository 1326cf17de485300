"""Every request the gate saw: who (instance, key) called what, when, and how it ended.

Entries are tuples in a bounded deque (old entries fall off the front) with a sequence number,
so a reader polls with ``since=<last seq it saw>`` and never misses or repeats an entry that is
still held. Counters per (service, operation) are kept as entries arrive, so they stay exact
after the log dropped old entries.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice
from typing import Any

__all__ = ["RequestLog", "FIELDS", "DEFAULT_CAPACITY", "THROTTLING_CODES"]

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling"})

DEFAULT_CAPACITY = 1_000_000
FIELDS = (
    "seq",
    "time",
    "instance_id",
    "access_key",
    "service",
    "operation",
    "status",
    "error_code",
    "latency_ms",
    "by_gate",
)
_FILTERS = ("instance_id", "access_key", "service", "operation", "status", "error_code")


class RequestLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.entries: deque[tuple] = deque(maxlen=capacity)
        self.seq = 0
        self.counters: dict[tuple[str, str], dict[str, Any]] = {}

    def add(
        self,
        time: float,
        instance_id: str | None,
        access_key: str | None,
        service: str,
        operation: str,
        status: int,
        error_code: str | None,
        latency_ms: float,
        by_gate: bool,
    ) -> None:
        self.seq += 1
        self.entries.append(
            (self.seq, time, instance_id, access_key, service, operation, status, error_code, latency_ms, by_gate)
        )
        counter = self.counters.get((service, operation))
        if counter is None:
            counter = self.counters[(service, operation)] = {"requests": 0, "status": {}, "errors": {}, "by_gate": 0}
        counter["requests"] += 1
        status_key = str(status)
        counter["status"][status_key] = counter["status"].get(status_key, 0) + 1
        if error_code is not None:
            counter["errors"][error_code] = counter["errors"].get(error_code, 0) + 1
        if by_gate:
            counter["by_gate"] += 1

    def since(self, seq: int = 0, limit: int = 10_000, **filters: Any) -> dict[str, Any]:
        """Entries after ``seq`` (at most ``limit``), filtered by equal field values.

        ``next`` is the cursor for the following call; ``dropped`` says entries after ``seq``
        already fell off the bounded log.
        """
        wanted = [(FIELDS.index(k), v) for k, v in filters.items() if v is not None]
        first = self.entries[0][0] if self.entries else self.seq + 1
        start = max(0, seq + 1 - first)
        dropped = max(0, first - (seq + 1)) if self.entries else 0
        out: list[dict[str, Any]] = []
        cursor = seq
        for entry in islice(self.entries, start, None):
            cursor = entry[0]
            if all(entry[i] == v for i, v in wanted):
                out.append(dict(zip(FIELDS, entry)))
                if len(out) >= limit:
                    break
        if len(out) < limit:
            cursor = max(cursor, self.seq)
        return {"entries": out, "next": cursor, "dropped": dropped}

    def series(self, bucket_s: float = 1.0, start: float | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Per time bucket (wall clock, ``bucket_s`` wide, from ``start``) of the held entries:
        offered calls, ok (< 400), throttled, failed (other errors) and latency percentiles."""
        wanted = [(FIELDS.index(k), v) for k, v in filters.items() if v is not None]
        buckets: dict[int, list[tuple]] = {}
        for entry in self.entries:
            if (start is None or entry[1] >= start) and all(entry[i] == v for i, v in wanted):
                buckets.setdefault(math.floor(entry[1] / bucket_s), []).append(entry)
        rows = []
        for index in sorted(buckets):
            entries = buckets[index]
            latencies = sorted(e[8] for e in entries)
            throttled = sum(1 for e in entries if e[7] in THROTTLING_CODES)
            ok = sum(1 for e in entries if e[6] < 400)
            rows.append(
                {
                    "time": index * bucket_s,
                    "offered": len(entries),
                    "ok": ok,
                    "throttled": throttled,
                    "failed": len(entries) - ok - throttled,
                    "latency_ms_p50": latencies[len(latencies) // 2],
                    "latency_ms_p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                }
            )
        return rows

    def counter_rows(self) -> list[dict[str, Any]]:
        return [
            {"service": service, "operation": operation, **counter}
            for (service, operation), counter in sorted(self.counters.items())
        ]

    def clear(self) -> None:
        self.entries.clear()
        self.counters.clear()
