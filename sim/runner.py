"""Run a scenario end to end: engine -> Run -> result folder -> report.

This is what ``bootstorm run`` does, callable from Python and pytest::

    from sim import load_scenario, run_scenario
    outcome = run_scenario(load_scenario("scenarios/autoscale-storm.yaml"), out_dir="results")
    outcome.summary.slos_passed, outcome.folder

The folder is written under a temporary name and renamed when complete, so a crash or Ctrl-C
never leaves a half-written run that looks finished.
"""

from __future__ import annotations

import errno
import json
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

    def to_json(self) -> str:
        """The summary as JSON (``summary.json``) plus ``folder``: where the run was written."""
        data = json.loads(self.summary.to_json())
        data["folder"] = None if self.folder is None else str(self.folder)
        return json.dumps(data, indent=2)


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
                 scenario_file: str | None = None, allow_unmeasured: bool = False,
                 **engine_options) -> RunOutcome:
    """Simulate, then write the Run and its report to ``out_dir/<run-id>/`` (None: no files).

    ``allow_unmeasured``: an SLO whose metric the run could not measure passes (it is still
    reported as not measured); by default it fails. ``engine_options`` go to the load engine
    (``workers``, ``remote_workers``, ``master_bind_host``, ``master_port``).
    """
    from sim.metrics import summarize
    from sim.report import write_report

    run = simulate(scenario, engine, seed, progress, scenario_file, **engine_options)
    if out_dir is None:
        return RunOutcome(run, summarize(run, allow_unmeasured=allow_unmeasured), None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = run_id(run)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    # mkdtemp makes the folder owner-only; a finished run folder follows the umask like any
    # other folder (CI uploaders and teammates read it).
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        run.write(tmp)
        for attachment, data in getattr(run, "attachments", {}).items():  # e.g. Locust's own report
            (tmp / attachment).parent.mkdir(parents=True, exist_ok=True)
            (tmp / attachment).write_bytes(data)
        summary = write_report(run, tmp, plots=plots, allow_unmeasured=allow_unmeasured)
        final = _publish(tmp, out / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RunOutcome(run, summary, final)


def run_id(run: Run) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", run.meta.scenario_name).strip("-") or "run"
    return f"{name}-{run.meta.engine}-seed{run.meta.seed}-{stamp}"


def _publish(tmp: Path, wanted: Path) -> Path:
    """Rename the finished ``tmp`` folder to ``wanted``, or ``wanted-2``, ``-3``, ... if taken.

    The rename is the atomic step: two runs finishing at once into the same folder both get a
    name, whoever renames first wins it (checking first and renaming after would race). A run
    folder is never empty, so renaming onto a taken name fails rather than replacing it.
    """
    for n in range(1, 10_000):
        candidate = wanted if n == 1 else wanted.with_name(f"{wanted.name}-{n}")
        if candidate.exists():
            continue
        try:
            os.rename(tmp, candidate)
            return candidate
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    raise OSError(errno.EEXIST, f"no free run folder name next to {wanted}")
