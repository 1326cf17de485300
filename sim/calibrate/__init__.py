"""``bootstorm calibrate``: the same scenario on the sim engine and on the real fakes, compared.

    from sim.calibrate import calibrate
    outcome = calibrate(load_scenario("scenarios/secrets-partition.yaml", ["fleet.size=200"]),
                        time_scale=0.25, fit=True, out_dir="results")
    outcome.comparison.goal("sim"), outcome.folder

Steps: compress the scenario's clock (`scale.compress`), start one fakes stack, optionally
measure the fakes (`fit.measure`) and write a calibrated copy of the scenario
(`fit.apply_fit`), run the load engine (and the exec engine when asked) on the stack, run the
sim engine with the same seed on the scenario as written (``sim``) and, with ``fit``, on the
calibrated copy (``sim-fitted``), compare (`compare.compare`) and
write ``results/calibrate-<name>-<stamp>/`` with each engine's full run folder, the calibrated
scenario, ``calibration.md``/``.json`` and ``time_to_ready_cdf.png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sim.calibrate.compare import GOAL_KS, GOAL_RELATIVE, Comparison, compare
from sim.calibrate.fit import Fit, apply_fit, measure
from sim.calibrate.scale import compress
from sim.scenario.model import Scenario

__all__ = ["calibrate", "CalibrationOutcome", "compare", "Comparison", "compress", "measure",
           "apply_fit", "Fit", "GOAL_KS", "GOAL_RELATIVE"]


@dataclass
class CalibrationOutcome:
    comparison: Comparison
    runs: dict
    folder: Path | None
    fit: Fit | None = None
    notes: list[str] = field(default_factory=list)


def calibrate(scenario: Scenario, *, seed: int | None = None, fit: bool = False, exec_engine: bool = False,
              time_scale: float = 1.0, workers: int | None = None, out_dir: str | Path | None = "results",
              scenario_file: str | None = None, plots: bool = True, log=None) -> CalibrationOutcome:
    """Run ``scenario`` on sim and load (and exec), compare, and write the report."""
    from fakes.stack import Stack
    from sim.engines.load import run as load_run
    from sim.engines.load.plan import plan_load
    from sim.engines.sim import run as sim_run

    log = log or (lambda msg: None)
    seed = scenario.run.seed if seed is None else seed
    notes = [f"seed {seed}; the load engine's run is the reference (real HTTP against the real fakes)"]
    s = compress(scenario, time_scale)
    if time_scale != 1.0:
        notes.append(f"clock compressed x{time_scale:g} for every engine (arrivals, faults, restart "
                     "backoff, grace, horizon); calls, timeouts, retries, OS boot and local work are not")
    size = plan_load(s, workers, seed).size  # InvalidInput before anything starts
    if size < s.fleet.size:
        notes.append(f"fleet.size {s.fleet.size:,} cut to the load engine's {size:,} instances for every engine")
        s = s.model_copy(update={"fleet": s.fleet.model_copy(update={"size": size})})
    runs, fitted, sim_scenario = {}, None, s
    with Stack(s) as stack:
        if fit:
            log("measuring the fakes (two probes on the load engine)")
            fitted = measure(s, stack, workers)
            sim_scenario = apply_fit(s, fitted)
        log(f"load engine: {size} virtual instances")
        runs["load"] = load_run(s, seed=seed, stack=stack, workers=workers, scenario_file=scenario_file)
        if exec_engine:
            from sim.engines.exec import run as exec_run

            log("exec engine")
            notes.append("exec runs the scenario's real script (exec.command), not its DAG: its "
                         "differences include everything the script does differently (no OS boot delay, "
                         "its own calls and retries)")
            s_exec = s.model_copy(update={"exec": s.exec.model_copy(update={"instances": size})})
            runs["exec"] = exec_run(s_exec, seed=seed, stack=stack, scenario_file=scenario_file)
    log("sim engine")
    runs["sim"] = sim_run(s, seed=seed, scenario_file=scenario_file)
    if fitted is not None:  # the model as written and as measured, side by side (the sim is cheap)
        runs["sim-fitted"] = sim_run(sim_scenario, seed=seed, scenario_file=scenario_file)
    comparison = compare(runs, reference="load")
    folder = None
    if out_dir is not None:
        folder = _folder(Path(out_dir), scenario.name)
        for name, run in runs.items():
            _write_run(run, folder / name, plots)
        if fitted is not None:
            import yaml

            (folder / "calibrated-scenario.yaml").write_text(
                "# Written by `bootstorm calibrate --fit`: service times and concurrency measured on the fakes.\n"
                + yaml.safe_dump(sim_scenario.model_dump(mode="json", by_alias=True), sort_keys=False))
        from sim.calibrate.report import write_calibration

        title = f"{scenario.name}, {size} instances" + (", fitted" if fit else "")
        write_calibration(folder, comparison, title, notes + [
            w if w.startswith(f"{name}:") else f"{name}: {w}" for name, run in runs.items() for w in run.meta.warnings],
            fitted.parameters if fitted else None)
    return CalibrationOutcome(comparison, runs, folder, fitted, notes)


def _folder(out: Path, name: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = out / f"calibrate-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-') or 'run'}-{stamp}"
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


def _write_run(run, folder: Path, plots: bool) -> None:
    from sim.report import write_report

    run.write(folder)
    for name, data in getattr(run, "attachments", {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    write_report(run, folder, plots=plots)
