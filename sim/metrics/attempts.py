"""Fleet-side metrics from the per-attempt table (definitions: ``sim.metrics``)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from sim.results import OUTCOMES, AttemptTable

from ._stats import distribution, ratio

__all__ = [
    "attempt_metrics",
    "instance_count",
    "time_to_ready",
    "time_to_ready_fleet",
    "ready_by_launch",
    "outcome_counts",
    "value_counts",
    "step_retry_means",
    "SECRET_EXPOSURE",
    "CONFIG_VALIDATION_FAILED",
]

SECRET_EXPOSURE = "secret_exposure"
CONFIG_VALIDATION_FAILED = "ConfigValidationFailed"


class _Instances:
    """Attempts grouped by instance: first launch, first ready time, attempts per instance."""

    def __init__(self, table: AttemptTable):
        instance = table.column("instance")
        attempt = table.column("attempt")
        launch = table.column("launch")
        ready = _mask(table.outcome, "ready") & ~np.isnan(table.column("ready_time"))
        ready_time = np.where(ready, table.column("ready_time"), np.inf)
        if len(instance) == 0:
            self.first_launch = self.first_ready = np.zeros(0)
            self.attempts = np.zeros(0, dtype=np.int64)
            return
        # Sort by instance, then attempt number, then launch: each group's first row is the
        # instance's first attempt, whose launch starts its clock (restarts count against it).
        order = np.lexsort((launch, attempt, instance))
        sorted_instance = instance[order]
        starts = np.flatnonzero(np.r_[True, sorted_instance[1:] != sorted_instance[:-1]])
        self.first_launch = launch[order][starts]
        self.first_ready = np.minimum.reduceat(ready_time[order], starts)
        self.attempts = np.diff(np.r_[starts, len(order)])

    def __len__(self) -> int:
        return len(self.attempts)

    def time_to_ready(self) -> np.ndarray:
        became_ready = np.isfinite(self.first_ready)
        return self.first_ready[became_ready] - self.first_launch[became_ready]

    def time_to_ready_fleet(self) -> np.ndarray:
        # first_ready is +inf for an instance that never became ready: so is its time.
        return self.first_ready - self.first_launch


def _mask(values: list[str], wanted: str) -> np.ndarray:
    return np.asarray(values, dtype=object) == wanted


def instance_count(table: AttemptTable) -> int:
    """Distinct instance ids (sorting: numpy's hash-based unique is slower on a million ids)."""
    ids = np.sort(table.column("instance"))
    return int((ids[1:] != ids[:-1]).sum()) + 1 if ids.size else 0


def time_to_ready(table: AttemptTable) -> np.ndarray:
    """Seconds from the first launch to ready, one value per instance that became ready."""
    return _Instances(table).time_to_ready()


def time_to_ready_fleet(table: AttemptTable) -> np.ndarray:
    """Seconds from the first launch to ready, one value per instance launched (+inf: never)."""
    return _Instances(table).time_to_ready_fleet()


def ready_by_launch(table: AttemptTable) -> tuple[np.ndarray, np.ndarray]:
    """(first launch, time to ready) per instance that became ready, for plots over run time."""
    instances = _Instances(table)
    became_ready = np.isfinite(instances.first_ready)
    return instances.first_launch[became_ready], instances.time_to_ready()


def outcome_counts(table: AttemptTable) -> dict[str, int]:
    """Attempts per outcome, every outcome present (zero when none)."""
    counts = Counter(table.outcome)
    return {o: int(counts.get(o, 0)) for o in OUTCOMES}


def value_counts(values: list[str]) -> dict[str, int]:
    """Counts of the non-empty values, most frequent first (ties by name)."""
    counts = Counter(values)
    counts.pop("", None)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def step_retry_means(table: AttemptTable) -> dict[str, float]:
    """Mean retries per attempt for each bootstrap step (NaN when there are no attempts)."""
    per_step = table.step_retries()
    if per_step.shape[0] == 0:
        return {s: math.nan for s in table.steps}
    means = per_step.mean(axis=0)
    return {s: float(m) for s, m in zip(table.steps, means)}


def _findings_with(findings: list[str], token: str) -> int:
    # Count over the distinct finding strings, not over the attempts: most are "".
    return sum(n for text, n in Counter(findings).items() if token in text.split(";"))


def _flatten(prefix: str, stats: dict[str, float], out: dict[str, float]) -> None:
    for key, value in stats.items():
        out[f"{prefix}.{key}"] = value


def attempt_metrics(table: AttemptTable, sim_end: float) -> dict[str, float]:
    """Every fleet-side metric of ``sim.scenario.slos.METRICS``, keyed by its name.

    ``sim_end`` closes the initial metric gap of attempts that never ended.
    """
    out: dict[str, float] = {}
    instances = _Instances(table)
    n_attempts = len(table)
    became_ready = int(np.isfinite(instances.first_ready).sum())
    out["bootstrap_success_rate"] = ratio(became_ready, len(instances))

    outcome = np.asarray(table.outcome, dtype=object)
    errors = int(((outcome == "failed") | (outcome == "hung")).sum())
    out["bootstrap_error_rate"] = 1000.0 * ratio(errors, n_attempts)

    retries = table.column("retries").astype(np.float64)
    retry_stats = distribution(retries)
    for key in ("mean", "p99", "max"):
        out[f"bootstrap_retries.{key}"] = retry_stats[key]

    error_class = np.asarray(table.error_class, dtype=object)
    out["config_validation_failures"] = float((error_class == CONFIG_VALIDATION_FAILED).sum())
    out["secret_exposure_events"] = float(_findings_with(table.findings, SECRET_EXPOSURE))
    per_instance = instances.attempts.astype(np.float64)
    has = per_instance.size > 0
    out["attempts_per_instance.mean"] = float(per_instance.mean()) if has else math.nan
    out["attempts_per_instance.max"] = float(per_instance.max()) if has else math.nan

    launch, start, end = table.column("launch"), table.column("start"), table.column("end")
    agent = table.column("mark_agent_started")
    secret = table.column("mark_secret_fetched")
    app = table.column("mark_app_started")
    # The plain name is over the fleet, so instances that never became ready count (as never);
    # ``time_to_ready_of_ready`` is the same over the instances that did.
    _flatten("time_to_ready", distribution(instances.time_to_ready_fleet()), out)
    _flatten("time_to_ready_of_ready", distribution(instances.time_to_ready()), out)
    _flatten("secret_fetch_latency", distribution(secret - start), out)
    _flatten("agent_start_time", distribution(agent - start), out)
    _flatten("cold_start_latency", distribution(app - launch), out)
    _flatten("initial_metric_gap", distribution(initial_metric_gap(app, agent, end, sim_end)), out)
    return out


def initial_metric_gap(
    app: np.ndarray, agent: np.ndarray, end: np.ndarray, sim_end: float
) -> np.ndarray:
    """Seconds the app ran without its metrics agent, per attempt that started the app.

    Agent started: max(0, agent - app). Agent never started: until the attempt ended (or the
    run ended, for attempts still running). NaN for attempts that never started the app.
    """
    closed = np.where(np.isnan(end), sim_end, end)
    gap = np.where(np.isnan(agent), closed - app, np.maximum(0.0, agent - app))
    return gap[~np.isnan(app)]
