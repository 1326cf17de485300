"""summary.json's encoding: NaN (not measured) as null, +inf (never) as "inf", and the checks
a summary.json read back must pass (``Summary.read``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["INFINITY", "check_summary", "verdict_fields", "nan_or_float", "number", "json_nulls"]

# JSON has no infinity: summary.json writes it as this string (NaN, not measured, is null).
INFINITY = "inf"


def check_summary(path: Path, data: dict) -> None:
    """The fields a reader relies on, each with what it must hold."""
    from sim.errors import InvalidRunFolder

    def bad(field, expected, value):
        return InvalidRunFolder(f"{path}: {field}: expected {expected}, got "
                                f"{json.dumps(value)[:60]}")

    wanted = 'a number, null (not measured) or "inf"'
    for key in ("metrics", "step_retries", "meta", "outcomes"):
        if not isinstance(data.get(key), dict):
            raise bad(key, "an object", data.get(key))
    for name, value in data["metrics"].items():
        if not _is_number(value):
            raise bad(f"metrics.{name}", wanted, value)
    if not _is_number(data["meta"].get("time_scale", 1.0)):
        raise bad("meta.time_scale", "a number", data["meta"].get("time_scale"))
    if not isinstance(data.get("verdicts"), list):
        raise bad("verdicts", "an array", data.get("verdicts"))
    for i, v in enumerate(data["verdicts"]):
        if not isinstance(v, dict):
            raise bad(f"verdicts.{i}", "an object", v)
        for key, ok, expected in (("slo", str, "a string"), ("metric", str, "a string"),
                                  ("op", str, "a string"), ("passed", bool, "true or false")):
            if not isinstance(v.get(key), ok):
                raise bad(f"verdicts.{i}.{key}", expected, v.get(key))
        for key in ("measured", "threshold"):
            if not _is_number(v.get(key)):
                raise bad(f"verdicts.{i}.{key}", wanted, v.get(key))


def _is_number(value) -> bool:
    """What summary.json writes for a number: null, "inf", "-inf" or a JSON number."""
    return (value is None or value in (INFINITY, "-" + INFINITY)
            or isinstance(value, (int, float)) and not isinstance(value, bool))


def verdict_fields(row: dict) -> dict:
    """A verdict as summary.json holds it -> Verdict's fields (``passed``: does not fail the
    run; the file's ``passed`` is strict, its ``fails_run`` says that)."""
    row = dict(row)
    if "fails_run" in row:
        row["passed"] = not row.pop("fails_run")
    return row


def nan_or_float(value) -> float:
    return math.nan if value is None else float(value)


def number(value) -> float:
    """A metric as summary.json holds it: null (not measured), "inf" (never), or a number."""
    if value in (INFINITY, "-" + INFINITY):
        return float(value)
    return nan_or_float(value)


def json_nulls(obj):
    if isinstance(obj, float):
        if math.isinf(obj):  # "never" (e.g. time to ready of an instance that never booted)
            return INFINITY if obj > 0 else "-" + INFINITY
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_nulls(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_nulls(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalars
        return json_nulls(obj.item())
    return obj
