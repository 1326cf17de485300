"""Everything the report shows, computed from a Run in one pass: a Summary."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.engines import unmeasured_metrics
from sim.results import Run
from sim.scenario.slos import metric_kind

from .attempts import (
    attempt_metrics,
    instance_count,
    outcome_counts,
    step_retry_means,
    value_counts,
)
from .dependencies import (
    METASTABLE_GRACE,
    dependency_metrics,
    happened,
    last_fault_end,
    metastability_tail,
)
from .phases import Phase, phase_breakdown
from .summary_file import check_summary, json_nulls, nan_or_float, number, verdict_fields
from .verdicts import NOT_APPLICABLE, PASS, UNMEASURED, Verdict, evaluate_slos, parse_slos

__all__ = ["Summary", "summarize", "compute_metrics", "to_scenario_clock", "validity_warnings",
           "CAPACITY_WARNING_SHARE"]

# A fake serving this share of its capacity is the bottleneck: the run measured the harness.
CAPACITY_WARNING_SHARE = 0.9
_HARNESS_ENGINES = ("exec", "load")


@dataclass
class Summary:
    """The report's numbers. ``metrics`` keys are the product's metric names (NaN: not measured)."""

    instances: int
    attempts: int
    metrics: dict[str, float]
    verdicts: list[Verdict]
    outcomes: dict[str, int]
    error_classes: dict[str, int]
    failed_steps: dict[str, int]
    step_retries: dict[str, float]  # mean retries per attempt, per step
    findings: dict[str, int]
    phases: list[Phase]
    dependencies: list[str]
    faults: list[dict]
    meta: dict
    warnings: list[str] = field(default_factory=list)
    allow_unmeasured: bool = False  # unmeasured SLOs were let pass (--allow-unmeasured)

    @property
    def slos_passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def unmeasured(self) -> list[Verdict]:
        """The SLOs whose metric the run could not measure."""
        return [v for v in self.verdicts if v.verdict == UNMEASURED]

    @property
    def not_applicable(self) -> list[Verdict]:
        """The SLOs scoped to other engines than this run's: neither passed nor failed."""
        return [v for v in self.verdicts if v.verdict == NOT_APPLICABLE]

    def dependency(self, name: str) -> dict[str, float]:
        """The metrics of one dependency under their short names (``peak_offered_rps``, ...)."""
        prefix = f"dependencies.{name}."
        return {k[len(prefix):]: v for k, v in self.metrics.items() if k.startswith(prefix)}

    def to_json(self) -> str:
        """JSON text; NaN (not measured) becomes null, infinity (never) the string "inf"."""
        data = asdict(self)
        # "passed" in the file is what a reader takes it for: measured and held. Whether an
        # SLO counts against the run (an unmeasured one may not, with --allow-unmeasured) is
        # "fails_run"; "slos_accepted" is the exit code's view, "slos_passed" the strict one.
        for row, v in zip(data["verdicts"], self.verdicts):
            row["passed"], row["fails_run"] = v.verdict == PASS, v.failed
        judged = [v for v in self.verdicts if v.verdict != NOT_APPLICABLE]
        data["slos_passed"] = all(v.verdict == PASS for v in judged)
        data["slos_accepted"] = self.slos_passed
        return json.dumps(json_nulls(data), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "Summary":
        return cls._from_data(json.loads(text))

    @classmethod
    def _from_data(cls, data: dict) -> "Summary":
        data = dict(data)
        for key in ("slos_passed", "slos_accepted"):
            data.pop(key, None)
        data["metrics"] = {k: number(v) for k, v in data["metrics"].items()}
        data["step_retries"] = {k: nan_or_float(v) for k, v in data["step_retries"].items()}
        data["verdicts"] = [
            Verdict(**{**verdict_fields(v), "measured": number(v["measured"]),
                       "threshold": nan_or_float(v["threshold"])})
            for v in data["verdicts"]
        ]
        data["phases"] = [
            Phase(**{**p, "p50": nan_or_float(p["p50"]), "p95": nan_or_float(p["p95"])}) for p in data["phases"]
        ]
        return cls(**data)

    @classmethod
    def read(cls, path: Path) -> "Summary":
        """summary.json read back; a missing, garbled or edited one is ``InvalidRunFolder``
        naming the field, what was expected and what was given."""
        from sim.errors import InvalidRunFolder
        from sim.results.reading import read_json

        data = read_json(path, dict, "the run's summary (summary.json)")
        check_summary(path, data)
        try:
            return cls._from_data(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidRunFolder(f"{path}: not a summary written by `bootstorm run` "
                                   f"({type(exc).__name__}: {exc})") from None


def run_end(run: Run) -> float:
    """Seconds of run time the run covered (its horizon unless it stopped early)."""
    return run.meta.sim_end or run.meta.horizon


def settled(run: Run) -> bool:
    """Whether the run stopped before its horizon because nothing was left to do (the sim
    engine stops once every instance is done and the dependencies hold no work), as opposed to
    being interrupted: after that end every dependency is idle."""
    return (not run.meta.partial and bool(run.meta.sim_end)
            and run.meta.sim_end < run.meta.horizon)


def compute_metrics(run: Run, grace: float = METASTABLE_GRACE) -> dict[str, float]:
    """Every metric of the run by name: fleet metrics, then ``dependencies.<name>.<metric>``.

    What the run's engine cannot measure (``sim.engines.NOT_MEASURED``) is NaN, not a
    reassuring zero. On the scenario's clock: a run whose times were scaled (exec
    ``time_scale``) has its durations divided and its rates multiplied by the scale, so an SLO
    written for the story (``time_to_ready.p95 <= 5m``) is compared with the story's seconds,
    not raw wall seconds.
    """
    sim_end = run_end(run)
    metrics = attempt_metrics(run.attempts, sim_end)
    for name in unmeasured_metrics(run.meta.engine):
        metrics[name] = math.nan
    for name, series in run.dependencies.items():
        for key, value in dependency_metrics(series, run.faults, grace, sim_end,
                                             settled(run)).items():
            metrics[f"dependencies.{name}.{key}"] = value
    return to_scenario_clock(metrics, run.meta.time_scale)


def to_scenario_clock(metrics: dict[str, float], time_scale: float) -> dict[str, float]:
    """Durations / time_scale, rates * time_scale; everything else as it is."""
    if time_scale == 1.0:
        return metrics
    out = {}
    for name, value in metrics.items():
        kind = metric_kind(name)
        out[name] = value / time_scale if kind == "duration" else value * time_scale if kind == "rate" else value
    return out


def validity_warnings(run: Run, metrics: dict[str, float],
                      grace: float = METASTABLE_GRACE) -> list[str]:
    """The engine's warnings, plus what makes this run's numbers doubtful."""
    warnings = list(run.meta.warnings)
    if run.meta.partial:
        warnings.append(
            f"partial run: interrupted after {run.meta.sim_end:g}s of {run.meta.horizon:g}s; "
            "the metrics cover only what had happened by then"
        )
    end = run_end(run)
    for fault in run.faults:
        if not happened(fault, end):
            warnings.append(
                f"fault {fault.kind} on {fault.target} (at {fault.start:g}s) never happened: "
                f"the run ended at {end:g}s"
            )
    for name, series in run.dependencies.items():
        fault_end = last_fault_end(run.faults, name, end)
        if fault_end == fault_end and metastability_tail(series, fault_end, grace) < 2 \
                and not (settled(run) and fault_end <= series.n * series.interval):
            ended = "never ended" if math.isinf(fault_end) else f"ended at {fault_end:g}s"
            warnings.append(
                f"{name}: the run ended too soon after the last fault (it {ended}) to judge "
                f"metastability: it needs {grace:g}s of grace plus 2 intervals; metastable is "
                "not measured"
            )
    if run.meta.engine in _HARNESS_ENGINES:
        for name, series in run.dependencies.items():
            capacity = series.capacity_rps
            peak = metrics.get(f"dependencies.{name}.peak_served_rps", math.nan)
            if capacity == capacity and capacity > 0 and peak >= CAPACITY_WARNING_SHARE * capacity:
                warnings.append(
                    f"{name}: peak served {peak:g}/s reached {peak / capacity:.0%} of the fake's "
                    f"capacity ({capacity:g}/s): the harness may be the bottleneck, not the "
                    "bootstrap"
                )
    return warnings


def summarize(run: Run, grace: float = METASTABLE_GRACE, *,
              allow_unmeasured: bool = False) -> Summary:
    """Metrics, SLO verdicts, counts and validity warnings of one run.

    An SLO whose metric the run could not measure fails, unless ``allow_unmeasured`` (then it
    is still reported as not measured, but does not fail the run).
    """
    table = run.attempts
    metrics = compute_metrics(run, grace)
    verdicts = evaluate_slos(parse_slos(run.scenario.get("slos", [])), metrics,
                             engine=run.meta.engine, allow_unmeasured=allow_unmeasured)
    return Summary(
        instances=instance_count(table),
        attempts=len(table),
        metrics=metrics,
        verdicts=verdicts,
        outcomes=outcome_counts(table),
        error_classes=value_counts(table.error_class),
        failed_steps=value_counts(table.failed_step),
        step_retries=step_retry_means(table),
        findings=_finding_counts(table.findings),
        phases=_scaled_phases(phase_breakdown(table), run.meta.time_scale),
        dependencies=list(run.dependencies),
        faults=[asdict(f) for f in run.faults],
        meta=asdict(run.meta),
        warnings=validity_warnings(run, metrics, grace),
        allow_unmeasured=allow_unmeasured,
    )


def _scaled_phases(phases: list[Phase], time_scale: float) -> list[Phase]:
    """Phase durations on the scenario's clock, as every other duration in the Summary."""
    if time_scale == 1.0:
        return phases
    return [Phase(p.name, p.begin, p.end, p.count, p.p50 / time_scale, p.p95 / time_scale) for p in phases]


def _finding_counts(findings: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text, n in value_counts(findings).items():  # distinct strings, not attempts
        for name in filter(None, text.split(";")):
            counts[name] = counts.get(name, 0) + n
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
