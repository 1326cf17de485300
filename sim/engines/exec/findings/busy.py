"""When an attempt was failing, and how much CPU it used then: the measure behind ``busy_wait``.

Pure functions over an attempt's calls and its CPU samples (run-relative times; samples are
``(t, CPU seconds so far)`` of the process group, read by the engine every ``CPU_SAMPLE``
seconds). The rule itself is in ``findings.rules``, its thresholds in ``FindingConfig``.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

__all__ = ["failing_spans", "cpu_between"]


def failing_spans(requests: Iterable[Mapping], outcome: str, start: float, end: float,
                  failed: Callable[[Mapping], bool]) -> list[tuple[float, float]]:
    """(from, to) spans of the attempt during which it was working around a failure."""
    calls = sorted(requests, key=lambda r: r["t"])
    errors = [r for r in calls if failed(r)]
    if outcome != "ready":  # it never got past the failure: failing from the first error on
        since = errors[0]["t"] + (errors[0].get("latency") or 0.0) if errors else start
        return [(max(since, start), end)] if end > since else []
    spans, since = [], None
    for req in calls:
        if failed(req):
            if since is None:
                since = req["t"] + (req.get("latency") or 0.0)
        elif since is not None:
            spans.append((since, max(since, req["t"])))
            since = None
    if since is not None:
        spans.append((since, max(since, end)))
    return [(max(lo, start), min(hi, end)) for lo, hi in spans if min(hi, end) > max(lo, start)]


def cpu_between(samples: list[tuple[float, float]], start: float, end: float, cpu_seconds: float,
                lo: float, hi: float) -> float:
    """CPU seconds the attempt used in [lo, hi], from its cumulative samples."""
    points = [(start, 0.0)] + sorted(p for p in samples if start < p[0] < end)
    points.append((end, max(cpu_seconds, points[-1][1])))

    def at(t: float) -> float:
        for (t0, c0), (t1, c1) in zip(points, points[1:]):
            if t <= t1:
                return c0 if t1 <= t0 else c0 + (c1 - c0) * (max(t, t0) - t0) / (t1 - t0)
        return points[-1][1]

    return max(0.0, at(hi) - at(lo))
