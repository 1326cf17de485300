"""A rate that changes over time, as a scenario writes it: ``rate: 5`` or a timeline.

    rate: 5                          # launches per second, all the time
    rate:                            # piecewise constant: each rate holds until the next `at`
      - {at: 0s, rate: 2}
      - {at: 60s, rate: 40}          # a spike
      - {at: 90s, rate: 2}

Times are from the run's start. Before the first ``at`` the rate is 0; the last rate holds
forever, so it must be > 0 (or the fleet would never finish launching). Validated here into a
float or a list of ``{"at": seconds, "rate": per_second}``; ``sim.arrivals`` turns it into
times.
"""

from __future__ import annotations

import math
from typing import Annotated, Union

from pydantic import BeforeValidator, WithJsonSchema

from sim.units import _DURATION_SCHEMA, parse_duration

__all__ = ["RateTimeline", "parse_rate"]


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected {what} as a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected {what} as a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite {what}, got {value!r}")
    return number


def parse_rate(value: object) -> float | list[dict]:
    """A rate > 0, or a timeline of ``{at, rate}`` points in time order ending with a rate > 0."""
    if not isinstance(value, list):
        rate = _number(value, "a rate (per second) or a list of {at, rate} points")
        if rate <= 0:
            raise ValueError(f"expected a value > 0, got {value!r}")
        return rate
    if not value:
        raise ValueError("expected at least one {at, rate} point, got an empty list")
    points: list[dict] = []
    for i, point in enumerate(value):
        if not isinstance(point, dict) or set(point) != {"at", "rate"}:
            raise ValueError(f"point {i}: expected a mapping {{at: 30s, rate: 5}}, got {point!r}")
        at = parse_duration(point["at"])
        rate = _number(point["rate"], f"point {i} rate")
        if rate < 0:
            raise ValueError(f"point {i}: expected a rate >= 0, got {point['rate']!r}")
        if points and at <= points[-1]["at"]:
            raise ValueError(
                f"point {i}: expected `at` after the point before ({points[-1]['at']:g}s), "
                f"got {at:g}s"
            )
        points.append({"at": at, "rate": rate})
    if points[-1]["rate"] <= 0:
        raise ValueError(
            "expected the last point's rate > 0 (it holds forever; at 0 the fleet would never "
            f"finish launching), got {value[-1]['rate']!r}"
        )
    return points


_RATE_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"at": _DURATION_SCHEMA, "rate": {"type": "number", "minimum": 0}},
                "required": ["at", "rate"],
                "additionalProperties": False,
            },
        },
    ],
    "description": "per second: a number, or a timeline [{at: 0s, rate: 2}, {at: 60s, rate: 40}]",
}
RateTimeline = Annotated[
    Union[float, list[dict]], BeforeValidator(parse_rate), WithJsonSchema(_RATE_SCHEMA)
]
