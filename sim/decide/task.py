"""One unit of work of a sweep, a plan or a comparison: one scenario, some overrides, one seed.

``run_task`` is a plain top-level function of plain data, so any ``concurrent.futures``
executor can ship it: a local process pool or a Dask cluster's workers. It takes the scenario
as text (a worker may not see the caller's files), runs it without writing files or plots,
and returns the metrics and verdicts as a dict, not the Run (a Run can be a million rows).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

__all__ = ["Task", "run_task", "judged_slos", "applicable_slos", "TTR_SAMPLE_LIMIT"]

# Time-to-ready values a task sends back when asked (for distribution tests): a seeded
# subsample beyond this, so a 1M-instance run does not ship 8 MB per seed.
TTR_SAMPLE_LIMIT = 20_000


@dataclass(frozen=True)
class Task:
    scenario_text: str
    scenario_file: str
    overrides: tuple[str, ...]
    seed: int
    engine: str = "sim"
    want_ttr: bool = False
    tags: dict = field(default_factory=dict)  # the caller's own bookkeeping (point, side)



def applicable_slos(scenario, engine: str) -> list[str]:
    """The SLO texts that judge a run on ``engine``: one scoped to other engines (``... on
    exec``) is not applicable there and must not count as met in any share of seeds."""
    return [slo.text for slo in scenario.slos if slo.applies_to(engine)]


def judged_slos(verdicts) -> dict[str, bool]:
    """SLO text -> whether it passed, for the SLOs that applied to the run (an unmeasured one
    is False unless allowed; a not applicable one is left out, never counted as a pass)."""
    return {v.slo: bool(v.passed) for v in verdicts if not v.not_applicable}


def run_task(task: Task) -> dict:
    """Run ``task`` and return ``{metrics, slos, seed, wall_seconds[, time_to_ready]}``.

    ``metrics`` maps metric names to floats (NaN: not measured); ``slos`` maps each SLO as
    written to whether it passed.
    """
    from sim.runner import run_scenario
    from sim.scenario import parse_scenario

    started = time.perf_counter()
    scenario = parse_scenario(task.scenario_text, task.scenario_file, list(task.overrides))
    outcome = run_scenario(scenario, engine=task.engine, seed=task.seed, out_dir=None,
                           plots=False, scenario_file=task.scenario_file)
    summary = outcome.summary
    result = {
        "seed": task.seed,
        "metrics": {k: _float(v) for k, v in summary.metrics.items()},
        "slos": judged_slos(summary.verdicts),
        "wall_seconds": time.perf_counter() - started,
        "tags": dict(task.tags),
    }
    if task.want_ttr:
        result["time_to_ready"] = _ttr_sample(outcome.run, task.seed)
    return result


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _ttr_sample(run, seed: int) -> list[float]:
    import numpy as np

    from sim.metrics import time_to_ready

    values = time_to_ready(run.attempts)
    if values.size > TTR_SAMPLE_LIMIT:
        values = np.random.default_rng(seed).choice(values, TTR_SAMPLE_LIMIT, replace=False)
    return [float(v) for v in values]


def run_tasks(executor, tasks: list[Task], on_result=None) -> list[dict]:
    """Run ``tasks`` on ``executor`` (any ``concurrent.futures.Executor``); results in task
    order. ``on_result(result)`` is called as each one finishes (journal, progress bar).

    A task that raises is a harness failure: the rest are cancelled and RunFailed is raised.
    """
    from concurrent.futures import as_completed

    from sim.errors import BootstormError, RunFailed

    futures = {executor.submit(run_task, t): i for i, t in enumerate(tasks)}
    results: list[dict | None] = [None] * len(tasks)
    try:
        for future in as_completed(futures):
            i = futures[future]
            try:
                result = future.result()
            except BootstormError:
                raise
            except Exception as exc:  # a worker died or the engine crashed: not the user's input
                t = tasks[i]
                raise RunFailed(f"a run failed in the harness (overrides {list(t.overrides)}, "
                                f"seed {t.seed}): {type(exc).__name__}: {exc}") from None
            results[i] = result
            if on_result is not None:
                on_result(result)
    finally:
        for future in futures:
            future.cancel()
    return results  # type: ignore[return-value]
