"""``bootstorm run``: check the arguments, run the scenario on its engine, print the summary."""

from __future__ import annotations

import sys

from sim.cli.console import make_console as _console
from sim.cli.console import print_plan as _print_plan
from sim.cli.console import ProgressBar as _progress
from sim.cli.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_SLO_FAILED

__all__ = ["cmd_run"]


def cmd_run(args) -> int:
    from sim.plan import plan
    from sim.runner import run_scenario
    from sim.scenario import load_scenario

    from sim.errors import InvalidArgument
    from sim.runner import AVAILABLE_ENGINES

    # Arguments are checked before the scenario, so a dry run rejects what a real run would.
    if args.engine is not None and args.engine not in AVAILABLE_ENGINES:
        raise InvalidArgument(
            f"--engine: expected one of {', '.join(AVAILABLE_ENGINES)}, got {args.engine!r}"
        )
    if args.seed is not None and args.seed < 0:
        raise InvalidArgument(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.worker:
        return _run_worker(args)
    for name in ("workers", "remote_workers"):
        value = getattr(args, name)
        if value is not None and value < (1 if name == "workers" else 0):
            raise InvalidArgument(f"--{name.replace('_', '-')}: expected an integer >= "
                                  f"{1 if name == 'workers' else 0}, got {value}")
    scenario = load_scenario(args.scenario, args.overrides)
    if args.bootstrap is not None:
        if not args.bootstrap.strip():
            raise InvalidArgument("--bootstrap: expected a shell command line, got an empty string")
        scenario = scenario.model_copy(
            update={"exec": scenario.exec.model_copy(update={"command": args.bootstrap})})
    if args.isolation is not None:
        if (args.engine or scenario.run.engine) != "exec":
            raise InvalidArgument(f"--isolation: applies to --engine exec only, not "
                                  f"{args.engine or scenario.run.engine!r}")
        scenario = scenario.model_copy(
            update={"exec": scenario.exec.model_copy(update={"isolation": args.isolation})})
    if args.dry_run:
        _print_plan(plan(scenario))
        return EXIT_OK
    engine = args.engine or scenario.run.engine
    with _progress(args.quiet, "simulating" if engine == "sim" else "running") as progress:
        outcome = run_scenario(
            scenario, engine=args.engine, seed=args.seed, out_dir=args.out,
            plots=not args.no_plots, progress=progress, scenario_file=args.scenario,
            allow_unmeasured=args.allow_unmeasured, **_load_options(args, engine),
        )
    summary = outcome.summary
    if args.json:
        print(outcome.to_json())
    else:
        from sim.report import render_console

        console = _console()
        render_console(summary, console)
        # Plain print: rich would wrap a long path, and scripts grep this line.
        print(f"report: {outcome.folder / 'report.md'}")
    if outcome.run.meta.partial:  # Ctrl-C / SIGTERM during an exec run: what happened so far
        print(f"interrupted: partial result in {outcome.folder}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if summary.slos_passed else EXIT_SLO_FAILED


def _load_options(args, engine: str) -> dict:
    if engine != "load":
        return {}
    return {"workers": args.workers, "remote_workers": args.remote_workers,
            "master_bind_host": args.master_bind_host, "master_port": args.master_port}


def _run_worker(args) -> int:
    """A Locust worker for a load run mastered elsewhere; the job comes from the master."""
    import os
    import subprocess

    from sim.engines.load import locust_command
    from sim.errors import InvalidArgument

    if not args.master_host:
        raise InvalidArgument("--worker: give --master-host HOST (the machine running the master)")
    cmd = locust_command("--worker", "--master-host", args.master_host,
                         *(["--master-port", str(args.master_port)] if args.master_port else []))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.call(cmd, env=env)

