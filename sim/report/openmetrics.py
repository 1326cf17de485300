"""The Summary as OpenMetrics text (``metrics.prom``), for Prometheus, Pushgateway or CI.

Every family is a gauge named ``bootstorm_<metric>``; durations end in ``_seconds`` with a
``# UNIT`` line. Distribution metrics carry a ``stat`` label (``p50`` ... ``p99.9``, ``max``,
``mean``), dependency metrics a ``dependency`` label. NaN (not measured) is written as ``NaN``.

SLOs, each sample labelled ``slo`` and ``metric``:

- ``bootstorm_slo_verdict``: a StateSet, one sample per state (``pass``, ``fail``,
  ``unmeasured``, ``not_applicable``) in the label ``bootstorm_slo_verdict``, 1 for the SLO's
  verdict and 0 for the others. Alert on
  ``bootstorm_slo_verdict{bootstorm_slo_verdict=~"fail|unmeasured"} == 1``.
- ``bootstorm_slo_passed``: 1 only when the metric was measured and the SLO held; 0 when it
  failed or was not measured (also with ``--allow-unmeasured``, which changes the exit code,
  not this). An SLO scoped to other engines has no sample: it was not judged.
- ``bootstorm_slo_unmeasured``, ``bootstorm_slo_not_applicable``: 1 for that verdict.
- ``bootstorm_slo_measured``: the metric as measured (base units).

The text ends with ``# EOF``.
"""

from __future__ import annotations

import math

from sim.metrics import Summary
from sim.metrics.verdicts import FAIL, NOT_APPLICABLE, PASS, UNMEASURED
from sim.scenario.slos import DEPENDENCY_METRICS, METRICS

__all__ = ["render_openmetrics", "VERDICT_STATES"]

# The states of the bootstorm_slo_verdict StateSet: every SLO has a sample for each.
VERDICT_STATES = (PASS, FAIL, UNMEASURED, NOT_APPLICABLE)

_HELP = {
    "bootstrap_success_rate": "Instances with a ready attempt / instances launched (0..1).",
    "bootstrap_error_rate": "Attempts failed or hung per 1,000 attempts.",
    "bootstrap_retries": "Retries per boot attempt.",
    "config_validation_failures": "Attempts that failed with ConfigValidationFailed.",
    "secret_exposure_events": "Attempts with a secret_exposure finding.",
    "attempts_per_instance": "Boot attempts per instance launched.",
    "time_to_ready": "Seconds from an instance's first launch to ready, over every instance "
                     "launched (+Inf: never became ready).",
    "time_to_ready_of_ready": "Seconds from an instance's first launch to ready, over the "
                              "instances that became ready.",
    "secret_fetch_latency": "Seconds from bootstrap start to the secret_fetched mark.",
    "agent_start_time": "Seconds from bootstrap start to the agent_started mark.",
    "initial_metric_gap": "Seconds the app ran before its metrics agent started.",
    "cold_start_latency": "Seconds from launch to the app_started mark.",
    "peak_offered_rps": "Most calls offered per second in one interval.",
    "peak_served_rps": "Most calls served per second in one interval.",
    "throttled_share": "Throttled calls / offered calls (0..1).",
    "failed_share": "Failed calls / offered calls (0..1).",
    "timed_out_share": "Timed-out calls / offered calls (0..1).",
    "retry_amplification": "Calls made / calls needed.",
    "goodput": "Served calls / offered calls (0..1).",
    "time_to_drain": ("Seconds from the end of the last fault until clean (+Inf: "
                      "not clean by the end of the run; NaN: not measured)."),
    "metastable": "1 when the dependency stayed overloaded after the last fault ended.",
    "latency": "Call latency over the whole run, from the latency histogram.",
}


def _escape_label(value: str) -> str:
    return str(value).replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


class _Families:
    """Families in order of first use; each family's samples stay together, as the format wants."""

    def __init__(self):
        self._order: list[str] = []
        self._meta: dict[str, tuple[str, str, str]] = {}
        self._samples: dict[str, list[str]] = {}

    def add(self, name: str, help_text: str, value: float, labels: dict[str, str] | None = None,
            *, unit: str = "", kind: str = "gauge", sample_name: str | None = None) -> None:
        if name not in self._meta:
            self._order.append(name)
            self._meta[name] = (help_text, unit, kind)
            self._samples[name] = []
        label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in (labels or {}).items())
        sample = (sample_name or name) + (f"{{{label_text}}}" if label_text else "")
        self._samples[name].append(f"{sample} {_number(value)}")

    def render(self) -> str:
        lines = []
        for name in self._order:
            help_text, unit, kind = self._meta[name]
            lines.append(f"# HELP {name} " + help_text.replace("\\", r"\\").replace("\n", r"\n"))
            lines.append(f"# TYPE {name} {kind}")
            if unit:
                lines.append(f"# UNIT {name} {unit}")
            lines.extend(self._samples[name])
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


def _family(metric: str, kind: str, prefix: str = "bootstorm_") -> tuple[str, str, dict[str, str]]:
    """(family name, unit, labels) of a metric name like ``time_to_ready.p95``."""
    base, _, stat = metric.partition(".")
    unit = {"duration": "seconds", "bytes": "bytes"}.get(kind, "")
    name = prefix + base
    if unit and not name.endswith("_" + unit):
        name += "_" + unit
    return name, unit, ({"stat": stat} if stat else {})


def render_openmetrics(summary: Summary) -> str:
    """OpenMetrics text exposition of the summary's metrics, counts and SLO verdicts."""
    out = _Families()
    meta = summary.meta
    out.add("bootstorm_run", "The run: engine, seed, scenario.", 1, {
        "engine": meta.get("engine", ""), "seed": str(meta.get("seed", "")),
        "scenario": meta.get("scenario_name", ""), "scenario_hash": meta.get("scenario_hash", ""),
    }, kind="info", sample_name="bootstorm_run_info")
    out.add("bootstorm_instances", "Instances launched.", summary.instances)
    for outcome, n in summary.outcomes.items():
        out.add("bootstorm_boot_attempts", "Boot attempts by outcome.", n, {"outcome": outcome})
    for metric, kind in METRICS.items():
        name, unit, labels = _family(metric, kind)
        help_text = _HELP.get(metric.partition(".")[0], metric)
        out.add(name, help_text, summary.metrics.get(metric, math.nan), labels, unit=unit)
    for error_class, n in summary.error_classes.items():
        out.add("bootstorm_boot_errors", "Failed or hung attempts by error class.", n,
                {"error_class": error_class})
    for step, mean in summary.step_retries.items():
        out.add("bootstorm_step_retries_mean", "Mean retries per attempt in a bootstrap step.",
                mean, {"step": step})
    for dependency in summary.dependencies:
        values = summary.dependency(dependency)
        for metric, kind in DEPENDENCY_METRICS.items():
            name, unit, labels = _family(metric, kind, "bootstorm_dependency_")
            out.add(name, _HELP.get(metric.partition(".")[0], metric), values.get(metric, math.nan),
                    {"dependency": dependency, **labels}, unit=unit)
    for v in summary.verdicts:
        for state in VERDICT_STATES:
            out.add("bootstorm_slo_verdict", "The SLO's verdict: pass, fail, unmeasured (the "
                    "run could not measure its metric) or not_applicable (scoped to other "
                    "engines); 1 for the verdict, 0 for the other states.",
                    1 if v.verdict == state else 0,
                    {"slo": v.slo, "metric": v.metric, "bootstorm_slo_verdict": state},
                    kind="stateset")
    for v in summary.verdicts:
        if v.verdict == "not_applicable":  # not judged on this engine: neither 1 nor 0
            continue
        # A metric that was not measured never looks passed, even when the run allowed it.
        out.add("bootstorm_slo_passed", "1 when the SLO's metric was measured and held; 0 when "
                "it failed or was not measured (see bootstorm_slo_verdict).",
                1 if v.verdict == "pass" else 0, {"slo": v.slo, "metric": v.metric})
    for v in summary.verdicts:
        out.add("bootstorm_slo_unmeasured", "1 when the run could not measure the SLO's metric "
                "(it then fails unless unmeasured SLOs were allowed).",
                1 if v.verdict == "unmeasured" else 0, {"slo": v.slo, "metric": v.metric})
    for v in summary.verdicts:
        out.add("bootstorm_slo_not_applicable", "1 when the SLO is scoped to other engines than "
                "this run's (not judged: no bootstorm_slo_passed sample).",
                1 if v.verdict == "not_applicable" else 0, {"slo": v.slo, "metric": v.metric})
    for v in summary.verdicts:
        out.add("bootstorm_slo_measured", "The SLO's metric as measured (base units).",
                v.measured, {"slo": v.slo, "metric": v.metric})
    out.add("bootstorm_validity_warnings", "Validity warnings: above 0, read the report first.",
            len(summary.warnings))
    return out.render()
