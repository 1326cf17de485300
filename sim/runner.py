"""Run a scenario end to end: engine -> Run -> result folder -> report.

This is what ``bootstorm run`` does, callable from Python and pytest::

    from sim import load_scenario, run_scenario
    outcome = run_scenario(load_scenario("scenarios/autoscale-storm.yaml"), out_dir="results")
    outcome.summary.slos_passed, outcome.folder

The folder is written under a temporary name and renamed when complete, so a crash or Ctrl-C
never leaves a half-written run that looks finished.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sim.errors import InvalidArgument
from sim.results import Run
from sim.scenario.model import Scenario

__all__ = ["run_scenario", "RunOutcome", "AVAILABLE_ENGINES", "simulate"]

AVAILABLE_ENGINES = ("sim", "exec", "load")


@dataclass
class RunOutcome:
    run: Run
    summary: object  # sim.metrics.Summary
    folder: Path | None


def simulate(scenario: Scenario, engine: str | None = None, seed: int | None = None,
             progress=None, scenario_file: str | None = None, **engine_options) -> Run:
    """Run ``scenario`` on ``engine`` (default: the scenario's) and return the Run.

    ``engine_options`` go to the load engine (``workers``, ``remote_workers``,
    ``master_bind_host``, ``master_port``)."""
    engine = engine or scenario.run.engine
    if engine not in AVAILABLE_ENGINES:
        raise InvalidArgument(
            f"engine {engine!r} is not available in this version; available: "
            f"{', '.join(AVAILABLE_ENGINES)}"
        )
    if engine == "exec":
        from sim.engines.exec import run as exec_run

        return exec_run(scenario, seed=seed, progress=progress, scenario_file=scenario_file)
    if engine == "load":
        from sim.engines.load import run as load_run

        return load_run(scenario, seed=seed, progress=progress, scenario_file=scenario_file,
                        **engine_options)
    from sim.engines.sim import run as sim_run

    return sim_run(scenario, seed=seed, progress=progress, scenario_file=scenario_file)


def run_scenario(scenario: Scenario, *, engine: str | None = None, seed: int | None = None,
                 out_dir: str | Path | None = "results", plots: bool = True, progress=None,
                 scenario_file: str | None = None, **engine_options) -> RunOutcome:
    """Simulate, then write the Run and its report to ``out_dir/<run-id>/`` (None: no files)."""
    from sim.metrics import summarize
    from sim.report import write_report

    run = simulate(scenario, engine, seed, progress, scenario_file, **engine_options)
    if out_dir is None:
        return RunOutcome(run, summarize(run), None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = _unique(out / run_id(run))
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=out))
    # mkdtemp makes the folder owner-only; a finished run folder follows the umask like any
    # other folder (CI uploaders and teammates read it).
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        run.write(tmp)
        for name, data in getattr(run, "attachments", {}).items():  # e.g. Locust's own report
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        summary = write_report(run, tmp, plots=plots)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RunOutcome(run, summary, final)


def run_id(run: Run) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", run.meta.scenario_name).strip("-") or "run"
    return f"{name}-{run.meta.engine}-seed{run.meta.seed}-{stamp}"


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    n = 2
    while path.with_name(f"{path.name}-{n}").exists():
        n += 1
    return path.with_name(f"{path.name}-{n}")
