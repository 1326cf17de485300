"""``bootstorm sweep``: one scenario over a grid or a Latin hypercube of parameter values,
N seeds per point, in parallel, resumable.

Common random numbers: seed i is the same at every point (the scenario's ``run.seed`` + i),
so differences between points are not the luck of different seeds.

    plan = prepare_sweep("scenarios/autoscale-storm.yaml", ["fleet.size=1000,2000"], seeds=5)
    with open_executor() as ex:
        result = run_sweep(plan, ex, sweep_folder(plan, "results"))
    result.points   # one row per point: mean and 95% CI of every metric, P(SLO passes)

The folder's name is a hash of the sweep's definition, so the same command run again finds
the journal (``runs.jsonl``) of a killed sweep and runs only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sim.decide.journal import Journal
from sim.decide.space import Vary, build_points, parse_vary, point_key, point_overrides
from sim.decide.task import Task, applicable_slos, run_tasks
from sim.errors import InvalidArgument

__all__ = ["SweepPlan", "SweepResult", "prepare_sweep", "sweep_folder", "run_sweep"]


@dataclass
class SweepPlan:
    scenario_file: str
    scenario_text: str
    overrides: tuple[str, ...]
    varies: list[Vary]
    samples: int | None
    points: list[dict]
    seeds: list[int]
    engine: str
    scenario_name: str
    slos: list[str]

    @property
    def params(self) -> list[str]:
        return [v.path for v in self.varies]

    def definition(self) -> dict:
        """What makes two sweeps the same sweep (and so share a journal)."""
        return {"scenario_file": self.scenario_file, "scenario_sha256": _sha(self.scenario_text),
                "overrides": list(self.overrides), "vary": [v.text for v in self.varies],
                "samples": self.samples, "seeds": self.seeds, "engine": self.engine}

    def tasks(self) -> list[tuple[str, dict, int]]:
        return [(point_key(p), p, s) for p in self.points for s in self.seeds]


@dataclass
class SweepResult:
    plan: SweepPlan
    folder: Path
    runs: list[dict]  # one row per (point, seed)
    points: list[dict]  # one row per point
    ran: int  # runs executed by this call (the rest came from the journal)
    plots: list[Path] = field(default_factory=list)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepare_sweep(scenario_file: str | Path, vary: list[str], *, samples: int | None = None,
                  seeds: int = 1, overrides: list[str] | tuple[str, ...] = (),
                  engine: str | None = None) -> SweepPlan:
    """Parse the --vary options and validate the scenario at every point before anything runs
    (InvalidInput names the point's override, as ``--set`` would)."""
    from sim.scenario import load_scenario, parse_scenario

    if not vary:
        raise InvalidArgument("--vary: give at least one PATH=V1,V2,... or PATH=LOW..HIGH")
    if seeds < 1:
        raise InvalidArgument(f"--seeds: expected an integer >= 1, got {seeds}")
    base = load_scenario(scenario_file, list(overrides))
    text = Path(scenario_file).read_text(encoding="utf-8")
    varies = [parse_vary(v) for v in vary]
    points = build_points(varies, samples, base.run.seed)
    for point in points:  # the loader's own errors name the override that is wrong
        parse_scenario(text, str(scenario_file), list(overrides) + point_overrides(point))
    engine = engine or base.run.engine
    if engine != "sim":
        raise InvalidArgument(f"--engine {engine}: sweeps run on the sim engine only (each "
                              "point is many runs; the exec engine runs real processes)")
    return SweepPlan(
        scenario_file=str(scenario_file), scenario_text=text, overrides=tuple(overrides),
        varies=varies, samples=samples, points=points,
        seeds=[base.run.seed + i for i in range(seeds)], engine=engine,
        scenario_name=base.name, slos=applicable_slos(base, engine),
    )


def sweep_folder(plan: SweepPlan, out_dir: str | Path = "results") -> Path:
    """``out_dir/<scenario>-sweep-<hash>``: the same sweep always gets the same folder."""
    digest = _sha(json.dumps(plan.definition(), sort_keys=True))[:10]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", plan.scenario_name).strip("-") or "scenario"
    return Path(out_dir) / f"{name}-sweep-{digest}"


def run_sweep(plan: SweepPlan, executor, folder: str | Path, *, progress=None,
              plots: bool = True) -> SweepResult:
    """Run what the journal in ``folder`` lacks, then write the table and plots.

    ``progress(done, total)`` is called at the start and after each finished run.
    """
    from sim.decide.table import point_rows, run_rows, write_table

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.json").write_text(json.dumps(
        {**plan.definition(), "params": plan.params, "points": plan.points,
         "slos": plan.slos}, indent=2))
    journal = Journal(folder / "runs.jsonl")
    done = journal.load()
    todo = [(key, point, seed) for key, point, seed in plan.tasks() if (key, seed) not in done]
    total = len(plan.points) * len(plan.seeds)
    finished = total - len(todo)
    if progress:
        progress(finished, total)
    tasks = [Task(plan.scenario_text, plan.scenario_file,
                  plan.overrides + tuple(point_overrides(point)), seed, plan.engine,
                  tags={"point": key, "params": point}) for key, point, seed in todo]

    def record(result: dict) -> None:
        nonlocal finished
        rec = {"point": result["tags"]["point"], "params": result["tags"]["params"],
               "seed": result["seed"], "metrics": result["metrics"], "slos": result["slos"],
               "wall_seconds": result["wall_seconds"]}
        journal.append(rec)
        done[(rec["point"], rec["seed"])] = rec
        finished += 1
        if progress:
            progress(finished, total)

    run_tasks(executor, tasks, record)
    records = [done[(key, seed)] for key, _, seed in plan.tasks()]
    runs = run_rows(plan, records)
    points = point_rows(plan, records)
    write_table(folder, runs + points)
    result = SweepResult(plan, folder, runs, points, ran=len(tasks))
    if plots:
        from sim.decide.plots import sweep_plots

        result.plots = sweep_plots(plan, points, folder)
    return result
