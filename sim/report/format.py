"""Numbers for people: a metric value in its unit (``99.90%``, ``1m05s``, ``12.5/s``).

The one place numbers get their units: the console, report.md, JUnit messages and the plots'
labels and axes all format through here. NaN is "not measured"; +inf (a time to ready of an
instance that never booted) is "never".
"""

from __future__ import annotations

import math

from sim.units import format_duration

__all__ = ["format_value", "format_seconds", "format_rate", "verdict_label", "verdict_line",
           "applies_to", "measured_cell", "dependency_cell", "NOT_MEASURED", "NEVER", "NO_FAULT",
           "NOT_DRAINED"]

NOT_MEASURED = "not measured"
NEVER = "never"
NO_FAULT = "no fault"
NOT_DRAINED = "never (in run)"


def format_seconds(seconds: float) -> str:
    """``850ms``, ``12.3s``, ``4m05s``; ``never`` for +inf, ``not measured`` for NaN."""
    if seconds is None or seconds != seconds:
        return NOT_MEASURED
    if math.isinf(seconds):
        return NEVER if seconds > 0 else "-inf"
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


def format_rate(per_second: float) -> str:
    """``40/s``, ``12.5/s``, ``1,234/s``; ``not measured`` for NaN."""
    if per_second is None or per_second != per_second:
        return NOT_MEASURED
    if math.isinf(per_second):
        return "unlimited" if per_second > 0 else "-inf"
    return f"{_number(per_second)}/s"


def format_value(value: float | None, kind: str) -> str:
    """``value`` (base units) shown for its metric kind (see ``sim.scenario.slos.METRICS``)."""
    if value is None or value != value:
        return NOT_MEASURED
    if kind == "ratio":
        return f"{value * 100:.2f}%" if value < 0.9999 or value == 1 else f"{value * 100:.4f}%"
    if kind == "duration":
        return format_seconds(value)
    if kind == "rate":
        return format_rate(value)
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


def applies_to(verdict) -> str:
    """``applies to exec, load``: why a scoped SLO was not judged on this run's engine."""
    return f"applies to {', '.join(verdict.engines)}"


def measured_cell(verdict) -> str:
    """The SLO's measured value; ``-`` for a not applicable SLO this engine did not measure
    (its "not measured" would read as a problem, and there is none)."""
    if verdict.verdict == "not_applicable" and verdict.measured != verdict.measured:
        return "-"
    return format_value(verdict.measured, verdict.kind)


def verdict_label(verdict) -> str:
    """An SLO's result in words: ``pass``, ``FAIL``, ``FAIL: not measured``, ``not applicable
    (applies to exec)`` or, when the run allowed unmeasured SLOs, ``not measured (allowed)``."""
    if verdict.verdict == "not_applicable":
        return f"not applicable ({applies_to(verdict)})"
    if verdict.verdict == "unmeasured":
        return "not measured (allowed)" if verdict.passed else "FAIL: not measured"
    return "pass" if verdict.passed else "FAIL"


def verdict_line(verdicts, engine: str | None = None) -> str:
    """``2 of 5 SLOs failed (1 not measured)``, ``all 3 SLOs passed``, ``No SLOs set``; SLOs
    scoped to other engines are counted apart: ``1 of 5 SLOs failed, 1 not applicable on sim``,
    ``4 of 5 SLOs passed, 1 not applicable on sim``. An unmeasured SLO the run allowed is never
    counted as passed: ``2 of 3 SLOs passed, 1 not measured (allowed)``."""
    if not verdicts:
        return "No SLOs set"
    failed = sum(not v.passed for v in verdicts)
    passed = sum(v.verdict == "pass" for v in verdicts)
    unmeasured = sum(v.verdict == "unmeasured" and not v.passed for v in verdicts)
    allowed = sum(v.verdict == "unmeasured" and v.passed for v in verdicts)
    skipped = sum(v.verdict == "not_applicable" for v in verdicts)
    tail = f", {allowed} not measured (allowed)" if allowed else ""
    tail += f", {skipped} not applicable" + (f" on {engine}" if engine else "") if skipped else ""
    if failed:
        text = f"{failed} of {len(verdicts)} SLOs failed"
        return text + (f" ({unmeasured} not measured)" if unmeasured else "") + tail
    if passed == len(verdicts):
        return f"all {len(verdicts)} SLOs passed"
    return f"{passed} of {len(verdicts)} SLOs passed" + tail


def dependency_cell(values: dict, key: str, kind: str, faults: list) -> str:
    """One dependency metric for a table; a drain time in a run without faults is "no fault"
    (nothing to drain from), not the alarming "not measured"; one that is +inf (not clean by
    the end of the run) is "never (in run)"."""
    if key == "time_to_drain" and not faults:
        return NO_FAULT
    if key == "time_to_drain" and values.get(key) == math.inf:
        return NOT_DRAINED  # +inf: still not clean when the run ended, not "forever"
    return format_value(values.get(key), kind)
