"""Numbers for people: a metric value in its unit (``99.90%``, ``1m05s``, ``12.5/s``)."""

from __future__ import annotations

import math

from sim.units import format_duration

__all__ = ["format_value", "format_seconds", "NOT_MEASURED"]

NOT_MEASURED = "n/a"


def format_seconds(seconds: float) -> str:
    """``850ms``, ``12.3s``, ``4m05s``; ``n/a`` for NaN (not measured)."""
    if seconds is None or seconds != seconds:
        return NOT_MEASURED
    if math.isinf(seconds):
        return "inf"
    if seconds == 0:
        return "0s"
    if 0 < seconds < 0.001:
        return f"{seconds * 1e6:.0f}µs"
    # Round first: format_duration(119.6) would otherwise print "1m60s".
    if seconds >= 60:
        seconds = round(seconds)
    elif seconds >= 1:
        seconds = round(seconds, 1)
    return format_duration(seconds)


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def format_value(value: float | None, kind: str) -> str:
    """``value`` (base units) shown for its metric kind (see ``sim.scenario.slos.METRICS``)."""
    if value is None or value != value:
        return NOT_MEASURED
    if kind == "ratio":
        return f"{value * 100:.2f}%" if value < 0.9999 or value == 1 else f"{value * 100:.4f}%"
    if kind == "duration":
        return format_seconds(value)
    if kind == "rate":
        return f"{_number(value)}/s"
    if kind == "per_mille":
        return f"{value:.2f} per 1,000"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "bytes":
        for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if value >= scale:
                return f"{value / scale:.1f} {unit}"
        return f"{value:.0f} B"
    return _number(value)
