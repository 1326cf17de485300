"""The parameter space of a sweep: ``--vary PATH=V1,V2`` (a grid) and ``--vary PATH=LOW..HIGH``
(a range, sampled by a seeded Latin hypercube), turned into points.

A point is an ordered mapping ``{path: value}``; it becomes ``--set path=value`` overrides for
the scenario loader, so a bad path or value fails exactly as ``--set`` would.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass

import yaml

from sim.errors import InvalidArgument

__all__ = ["Vary", "parse_vary", "build_points", "point_key", "point_overrides"]


@dataclass(frozen=True)
class Vary:
    """One varied field: a list of values (grid) or a numeric range (sampled)."""

    path: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    text: str = ""

    @property
    def is_range(self) -> bool:
        return self.low is not None


def _yaml_value(raw: str):
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def parse_vary(text: str, option: str = "--vary") -> Vary:
    """``fleet.size=500,1000`` or ``fleet.size=1000..5000`` -> Vary (InvalidArgument if bad)."""
    if "=" not in text:
        raise InvalidArgument(f"{option} expects PATH=V1,V2,... or PATH=LOW..HIGH "
                              f"(e.g. fleet.size=500,1000), got {text!r}")
    path, raw = (s.strip() for s in text.split("=", 1))
    if not path or any(k == "" for k in path.split(".")):
        raise InvalidArgument(f"{option} expects a dotted field path before '=', got {text!r}")
    if ".." in raw and "," not in raw and not raw.startswith(("[", "{")):
        low_text, high_text = (s.strip() for s in raw.split("..", 1))
        low, high = _yaml_value(low_text), _yaml_value(high_text)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
            raise InvalidArgument(f"{option} {text}: a range needs two numbers LOW..HIGH "
                                  f"(e.g. fleet.size=1000..5000), got {low_text!r}..{high_text!r}")
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise InvalidArgument(f"{option} {text}: expected LOW < HIGH, got {low}..{high}")
        integer = isinstance(low, int) and isinstance(high, int)
        return Vary(path, low=float(low), high=float(high), integer=integer, text=text)
    parts = [p.strip() for p in raw.split(",")]
    if not raw.strip() or any(p == "" for p in parts):
        raise InvalidArgument(f"{option} {text}: expected comma-separated values "
                              f"(e.g. {path}=1,2,3), got {raw!r}")
    try:  # as a YAML flow list, so a value may be a mapping: {kind: fixed, delay: 1s},{...}
        values = tuple(yaml.safe_load(f"[{raw}]"))
    except yaml.YAMLError:
        values = tuple(_yaml_value(p) for p in parts)
    if len(set(map(_canonical, values))) != len(values):
        raise InvalidArgument(f"{option} {text}: a value is listed twice")
    return Vary(path, values=values, text=text)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def build_points(varies: list[Vary], samples: int | None, seed: int) -> list[dict]:
    """Every point of the sweep: the grid of the listed values times ``samples`` Latin-hypercube
    draws over the ranges (``scipy.stats.qmc.LatinHypercube`` seeded with ``seed``)."""
    paths = [v.path for v in varies]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise InvalidArgument(f"--vary {dup}: the same field is varied twice")
    grid = [v for v in varies if not v.is_range]
    ranges = [v for v in varies if v.is_range]
    if ranges and not samples:
        raise InvalidArgument(f"--vary {ranges[0].text}: a range needs --samples K (how many "
                              "Latin-hypercube points to draw)")
    if samples and not ranges:
        raise InvalidArgument("--samples: only for ranges (--vary PATH=LOW..HIGH); the listed "
                              "values are already a grid")
    if samples is not None and samples < 1:
        raise InvalidArgument(f"--samples: expected an integer >= 1, got {samples}")
    grid_points = [dict(zip([v.path for v in grid], combo))
                   for combo in itertools.product(*[v.values for v in grid])]
    if not ranges:
        return grid_points
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(ranges), rng=seed).random(samples)
    drawn = []
    for row in unit:
        point = {}
        for v, u in zip(ranges, row):
            x = v.low + u * (v.high - v.low)
            point[v.path] = int(round(x)) if v.integer else float(x)
        drawn.append(point)
    points = [{**g, **d} for g in grid_points for d in drawn]
    # Integer ranges narrower than K samples round two draws onto one value: run it once.
    unique = {point_key(p): p for p in points}
    return list(unique.values())


def point_key(point: dict) -> str:
    """A stable text key of a point (the journal's key, with the seed)."""
    return _canonical(point)


def point_overrides(point: dict) -> list[str]:
    """The point as ``--set`` overrides (JSON values are YAML, so strings stay strings)."""
    return [f"{path}={json.dumps(value)}" for path, value in point.items()]
