"""Service level objectives: ``time_to_ready.p95 <= 60s``, ``bootstrap_success_rate >= 99.9%``.

An SLO is written as one string, ``METRIC OP VALUE``, or as a mapping with ``metric``, ``op``
and ``value``. The value's unit must fit the metric: a percentage (or fraction) for rates and
shares, a duration for times, a plain number for counts and per-second loads. Values are held
in base units: fractions, seconds, counts, per second.

An SLO may be scoped to engines: ``secret_exposure_events <= 0 on exec`` (one string, the
engines after ``on``, comma-separated) or ``engines: [exec]`` in the mapping. On any other
engine its verdict is "not applicable": it neither passes nor fails. Without a scope it applies
on every engine.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.engines import ENGINES, unmeasured_metrics
from sim.units import parse_duration

__all__ = ["SLO", "METRICS", "DEPENDENCY_METRICS", "metric_kind", "PERCENTILES", "slo_warnings"]

PERCENTILES = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")

# metric name -> kind of value: "ratio" (fraction), "duration" (seconds), "count", "rate" (/s),
# "per_mille" (per 1,000 boots), "bool", "bytes".
METRICS: dict[str, str] = {
    "bootstrap_success_rate": "ratio",
    "bootstrap_error_rate": "per_mille",
    "bootstrap_retries.mean": "count",
    "bootstrap_retries.p99": "count",
    "bootstrap_retries.max": "count",
    "config_validation_failures": "count",
    "secret_exposure_events": "count",
    "attempts_per_instance.mean": "count",
    "attempts_per_instance.max": "count",
}
for _m in ("time_to_ready", "time_to_ready_of_ready", "secret_fetch_latency", "agent_start_time", "initial_metric_gap",
           "cold_start_latency"):
    for _p in PERCENTILES:
        METRICS[f"{_m}.{_p}"] = "duration"

DEPENDENCY_METRICS: dict[str, str] = {
    "peak_offered_rps": "rate",
    "peak_served_rps": "rate",
    "throttled_share": "ratio",
    "failed_share": "ratio",
    "timed_out_share": "ratio",
    "retry_amplification": "count",
    "goodput": "ratio",  # served / offered
    "time_to_drain": "duration",
    "metastable": "bool",
    "egress_bytes": "bytes",  # payload bytes served (downloads)
    "latency.p50": "duration",
    "latency.p99": "duration",
}

_OPS = ("<=", ">=", "<", ">", "==")
# METRIC OP VALUE [on ENGINE, ENGINE]; the value never holds a space followed by "on".
_TEXT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=|==|<|>)\s*(.+?)"
                   r"(?:\s+on\s+([A-Za-z0-9_\-]+(?:\s*,\s*[A-Za-z0-9_\-]+)*))?\s*$")


def metric_kind(metric: str) -> str | None:
    """The kind of a metric name, or None if bootstorm does not know it."""
    if metric in METRICS:
        return METRICS[metric]
    parts = metric.split(".", 2)
    if len(parts) == 3 and parts[0] == "dependencies":
        return DEPENDENCY_METRICS.get(parts[2])
    return None


def _value(kind: str, raw: object) -> float:
    text = str(raw).strip()
    if kind == "ratio":
        if text.endswith("%"):
            try:  # Decimal: 99.9% must be exactly 0.999, not 0.9990000000000001
                share = Decimal(text[:-1].strip()) / 100
            except InvalidOperation:
                raise ValueError(f"expected a percentage like 99.9%, got {raw!r}") from None
            if not 0 <= share <= 1:  # a share of something: 999% can never be met (or missed)
                raise ValueError(f"expected a percentage from 0% to 100%, got {raw!r}")
            return float(share)
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"expected a percentage like 99.9% or a fraction 0..1, "
                             f"got {raw!r}") from None
        if not 0 <= v <= 1:
            raise ValueError(f"a share is a percentage like 99.9% or a fraction 0..1, got {raw!r}")
        return v
    if kind == "duration":
        return parse_duration(raw)
    if kind == "bool":
        if text.lower() in ("true", "1", "yes"):
            return 1.0
        if text.lower() in ("false", "0", "no"):
            return 0.0
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind == "bytes":
        m = re.match(r"^([0-9.]+)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$", text)
        if not m:
            raise ValueError(f"expected a size like 500GB or 2TiB, got {raw!r}")
        scale = {None: 1, "B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
                 "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[m.group(2)]
        return float(m.group(1)) * scale
    if kind == "rate" and text.endswith("/s"):
        text = text[:-2]
    return float(text)


class SLO(BaseModel):
    """One objective; ``threshold`` is in base units (fraction, seconds, count, per second)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str = Field(description="Metric name, e.g. time_to_ready.p95 or dependencies.sts.peak_offered_rps.")
    op: Literal["<=", ">=", "<", ">", "=="] = Field(description="Comparison.")
    # bool before pydantic can turn `value: false` into 0.0 (then "expected true or false").
    value: str | bool | float = Field(
        description="Threshold with its unit: 99.9%, 60s, 5000, false.")
    engines: tuple[Literal["sim", "exec", "load"], ...] | None = Field(
        None, description="Engines the SLO applies to (default: every engine). On another "
        "engine its verdict is not_applicable: neither pass nor fail.")
    threshold: float = Field(0.0, description="(computed) threshold in base units.")
    text: str = Field("", description="(computed) the SLO as written.")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        # What a scenario file may hold: the one-string form, or the mapping without the two
        # computed fields (a file that set them would be confusing, not useful).
        ref = handler(core_schema)
        mapping = handler.resolve_ref_schema(ref)
        for computed in ("threshold", "text"):
            mapping.get("properties", {}).pop(computed, None)
        text = {"type": "string", "pattern": _TEXT.pattern,
                "description": "METRIC OP VALUE [on ENGINE, ...], e.g. "
                "'time_to_ready.p95 <= 60s' or 'secret_exposure_events <= 0 on exec'."}
        return {"anyOf": [text, ref]}

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data):
        if isinstance(data, str):
            m = _TEXT.match(data)
            if not m:
                hint = ""
                if data.strip() in ENGINES:  # [x <= 0 on exec, load]: YAML split at the comma
                    hint = ("; an SLO scoped to several engines in a [...] list needs quotes: "
                            "[\"secret_exposure_events <= 0 on exec, load\"]")
                raise ValueError(
                    f"expected 'METRIC OP VALUE' like 'time_to_ready.p95 <= 60s', got {data!r}"
                    + hint)
            out = {"metric": m.group(1), "op": m.group(2), "value": m.group(3), "text": data.strip()}
            if m.group(4):
                out["engines"] = [e.strip() for e in m.group(4).split(",")]
            return out
        return data

    @field_validator("engines", mode="before")
    @classmethod
    def _engine_names(cls, value):
        if value is None:
            return None
        if isinstance(value, str):  # engines: exec
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"expected a list of engines from {', '.join(ENGINES)}, "
                             f"got {value!r}")
        names: list[str] = []
        for name in value:
            if name not in ENGINES:
                close = difflib.get_close_matches(str(name), ENGINES, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"unknown engine {name!r}{hint} (expected one of: "
                                 f"{', '.join(ENGINES)})")
            if name not in names:
                names.append(name)
        return tuple(names)

    @model_validator(mode="after")
    def _check(self):
        kind = metric_kind(self.metric)
        if kind is None:
            known = ", ".join(sorted(METRICS)[:6])
            raise ValueError(
                f"unknown metric {self.metric!r}; expected one of {known}, ... or "
                f"dependencies.<name>.<{'|'.join(DEPENDENCY_METRICS)}>"
            )
        try:
            threshold = _value(kind, self.value)
        except ValueError as exc:
            raise ValueError(f"{self.metric}: {exc}") from None
        object.__setattr__(self, "threshold", threshold)
        if not self.text:
            scope = f" on {', '.join(self.engines)}" if self.engines else ""
            value = self.value  # `value: 0` arrives as 0.0: show it as written
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            object.__setattr__(self, "text", f"{self.metric} {self.op} {value}{scope}")
        return self

    def applies_to(self, engine: str | None) -> bool:
        """Whether the SLO is judged on ``engine`` (None: an unknown engine, judge it)."""
        return self.engines is None or engine is None or engine in self.engines

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` (base units) meets the objective; NaN never does."""
        if measured != measured:
            return False
        t = self.threshold
        return {
            "<=": measured <= t, ">=": measured >= t, "<": measured < t, ">": measured > t,
            "==": measured == t,
        }[self.op]


def slo_warnings(slos: list[SLO]) -> list[str]:
    """What a scoped SLO cannot do: apply on an engine that does not measure its metric.

    Not an error: the scenario is still valid, and an engine may learn to measure the metric.
    Scoped only to engines that cannot measure it, the SLO can never pass; scoped to some, it
    fails there as not measured.
    """
    out = []
    for i, slo in enumerate(slos):
        if not slo.engines:
            continue
        blind = [e for e in slo.engines if slo.metric in unmeasured_metrics(e)]
        if blind and len(blind) == len(slo.engines):
            out.append(f"slos.{i} ({slo.text}): applies only on {', '.join(blind)}, which cannot "
                       f"measure {slo.metric}: it can never pass")
        elif blind:
            out.append(f"slos.{i} ({slo.text}): {', '.join(blind)} cannot measure {slo.metric}: "
                       "there it fails as not measured")
    return out
