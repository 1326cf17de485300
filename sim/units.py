"""Durations and rates with units, as a scenario writes them: ``250ms``, ``2m``, ``1h30m``.

A bare number is seconds. Pydantic fields typed ``Duration`` accept either and hold float
seconds, so the rest of the code never sees a unit.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["parse_duration", "Duration", "PositiveDuration", "format_duration"]

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(us|µs|ms|s|m|h|d)")


def parse_duration(value: object) -> float:
    """Seconds from ``value``: a number (seconds) or a string like ``1.5s``, ``250ms``, ``1h30m``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 250ms, 30s or 2m, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos and text[pos : m.start()].strip():
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos == 0 or text[pos:].strip():
                raise ValueError(
                    f"expected a duration like 250ms, 30s, 2m or 1h30m, got {value!r}"
                ) from None
    else:
        raise ValueError(f"expected a duration like 250ms, 30s or 2m, got {value!r}")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite duration, got {value!r}")
    if seconds < 0:
        raise ValueError(f"expected a duration >= 0, got {value!r}")
    return seconds


def _positive(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"expected a duration > 0, got {value!r}")
    return seconds


# Editors validate scenario files against the JSON Schema: say that "250ms" is welcome too.
_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*((\d+(\.\d+)?|\.\d+)\s*(us|µs|ms|s|m|h|d)\s*)+$"},
    ],
    "description": "seconds, or a duration with units: 250ms, 30s, 2m, 1h30m",
}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
PositiveDuration = Annotated[float, BeforeValidator(_positive), WithJsonSchema(_DURATION_SCHEMA)]


def format_duration(seconds: float) -> str:
    """A short human form: ``850ms``, ``12.3s``, ``4m05s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    total = int(round(seconds))  # round first: 119.6 s is 2m00s, not 1m60s
    m, s = divmod(total, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
