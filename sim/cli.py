"""The ``bootstorm`` command line: parse, call the library, print. Nothing else lives here.

Exit codes: 0 done (and every SLO passed), 1 an SLO failed, 2 bad input (scenario, argument),
3 the harness itself failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys

from sim.errors import BootstormError, InvalidInput

__all__ = ["main"]

EXIT_OK, EXIT_SLO_FAILED, EXIT_BAD_INPUT, EXIT_RUN_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_EPILOG = """\
examples:
  bootstorm run scenarios/autoscale-storm.yaml
  bootstorm run scenarios/autoscale-storm.yaml --set bootstrap.steps.5.retry.kind=full_jitter
  bootstorm run scenarios/autoscale-storm.yaml --dry-run
  bootstorm validate scenarios/*.yaml
  bootstorm schema > bootstorm.schema.json
  bootstorm report results/<run-folder>
  bootstorm fakes up scenarios/secrets-partition.yaml
  bootstorm run scenarios/secrets-partition.yaml --engine load --set load.instances=200
  bootstorm calibrate scenarios/secrets-partition.yaml --set fleet.size=200 --fit
  bootstorm sweep scenarios/autoscale-storm.yaml --vary fleet.size=5000,10000,20000 --seeds 5
  bootstorm plan scenarios/autoscale-storm.yaml --find max fleet.size --within 1000..100000
  bootstorm compare results/<run-a> results/<run-b>
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: exit 2 like every other bad input
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="bootstorm",
        description="Chaos and load simulation harness for instance bootstrap scripts: replay "
        "an autoscale storm, token expiry or a partition against your fleet's boot, and "
        "measure time to ready, failures, retries and dependency load.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    r = sub.add_parser("run", help="run a scenario and write its report",
                       description="Validate SCENARIO, run it, write raw results and a report "
                       "to results/<run-id>/, print a summary. Exits 1 when an SLO fails (an "
                       "SLO whose metric the run could not measure fails too, unless "
                       "--allow-unmeasured), so it can gate CI. An SLO scoped to other engines "
                       "('... on exec') is not applicable: neither a pass nor a fail.")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--engine", default=None,
                   help="engine to run on (default: the scenario's run.engine, normally sim)")
    r.add_argument("--seed", type=int, default=None, help="override run.seed")
    r.add_argument("--bootstrap", default=None, metavar="CMD",
                   help="exec engine: the shell command that boots one instance (overrides "
                   "exec.command and bootstrap.command)")
    r.add_argument("--isolation", default=None, choices=("netns", "env"),
                   help="exec engine: netns runs each instance in its own network namespace "
                   "(169.254.169.254 is its own IMDS, the AWS endpoints reach the fakes, nothing "
                   "else; needs root); env shares the host network and points "
                   "AWS_EC2_METADATA_SERVICE_ENDPOINT at the IMDS (default: exec.isolation, "
                   "auto: netns when possible)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field, e.g. fleet.size=500 or "
                   "bootstrap.steps.0.retry.kind=full_jitter (repeatable)")
    r.add_argument("--out", default="results", help="folder for run folders (default: results)")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots (faster)")
    r.add_argument("--dry-run", action="store_true",
                   help="validate and show the plan (launch rate, demand vs quotas) without running")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--json", action="store_true",
                   help="print the summary as JSON instead of tables (summary.json plus "
                   "\"folder\": the run folder's path)")
    r.add_argument("--allow-unmeasured", action="store_true",
                   help="let an SLO whose metric this run could not measure pass (e.g. "
                   "secret_exposure_events on the sim engine, when the SLO is not scoped "
                   "'on exec'); it is still reported as not measured. Default: it fails")
    lg = r.add_argument_group(
        "load engine (Locust)",
        "--engine load runs a Locust master on 127.0.0.1 and N local workers. To add workers on "
        "other machines: start the run with --remote-workers M --master-bind-host 0.0.0.0 "
        "--master-port P, then on each machine `bootstorm run SCENARIO --engine load --worker "
        "--master-host HOST --master-port P` (see docs/load-engine.md).")
    lg.add_argument("--workers", type=int, default=None, metavar="N",
                    help="local Locust worker processes (default: load.workers, else one per core)")
    lg.add_argument("--remote-workers", type=int, default=0, metavar="M",
                    help="wait for M more workers started on other machines")
    lg.add_argument("--master-bind-host", default="127.0.0.1", metavar="HOST",
                    help="address the Locust master listens on (default 127.0.0.1)")
    lg.add_argument("--master-port", type=int, default=None, metavar="P",
                    help="port the Locust master listens on (default: a free one)")
    lg.add_argument("--worker", action="store_true",
                    help="only run a Locust worker that joins the master at --master-host")
    lg.add_argument("--master-host", default=None, metavar="HOST",
                    help="with --worker: the machine the master runs on")

    v = sub.add_parser("validate", help="check scenario files without running them",
                       description="Validate each FILE completely; report every problem with "
                       "file, line, field path, what was expected and what was given. Warns "
                       "(exit 0) about an SLO scoped to engines that cannot measure it.")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    sub.add_parser("schema", help="print the scenario JSON Schema (for editor autocompletion)")

    rep = sub.add_parser("report", help="rewrite the report of a run folder",
                         description="Re-read a run folder written by `bootstorm run` and "
                         "rewrite summary.json, metrics.prom, junit.xml, report.md and plots "
                         "(all or none: they are staged and moved in together). A missing, "
                         "truncated or edited file exits 2 with the file, the line and column "
                         "or the field, what was expected and what was found.")
    rep.add_argument("folder")
    rep.add_argument("--no-plots", action="store_true")
    rep.add_argument("--allow-unmeasured", action="store_true",
                     help="let SLOs the run could not measure pass (still shown as not measured)")

    c = sub.add_parser(
        "calibrate", help="run a scenario on the sim and on the real fakes (load engine), compare",
        description="Run SCENARIO on the load engine (Locust virtual instances against the real "
        "fakes: the reference) and on the sim engine with the same seed, then report side by "
        "side: time to ready p50/p95/p99, success rate, calls, throttles and retry amplification "
        "per dependency, the relative error of each, the two-sample KS distance of the time-to-"
        "ready distributions, and one CDF plot. Use a small fleet (--set fleet.size=200). "
        "--fit first measures the fakes' service times and capacities and also runs the sim on "
        "a calibrated copy of the scenario (written beside the report; column sim-fitted), so "
        "the calibrated sim can then be scaled to 100k instances.")
    c.add_argument("scenario", help="scenario YAML file")
    c.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field, e.g. fleet.size=200 (repeatable)")
    c.add_argument("--seed", type=int, default=None, help="override run.seed (both engines)")
    c.add_argument("--fit", action="store_true",
                   help="measure the fakes first and also run the sim on the calibrated scenario")
    c.add_argument("--exec", dest="exec_engine", action="store_true",
                   help="also run the exec engine (the scenario's real bootstrap script)")
    c.add_argument("--time-scale", type=float, default=None, metavar="X",
                   help="compress the scenario's clock by X for every engine (default: load.time_scale)")
    c.add_argument("--workers", type=int, default=None, metavar="N", help="local Locust workers")
    c.add_argument("--out", default="results", help="folder for the calibration folder (default: results)")
    c.add_argument("--no-plots", action="store_true", help="skip each run's own plots (the CDF is always drawn)")

    # Listed here for --help; `main` hands everything after `fakes` to fakes.stack.cli.
    sub.add_parser("fakes", help="start or stop the real fakes: fakes up [SCENARIO] | fakes down "
                   "| fakes toxiproxy (see `bootstorm fakes --help`)", add_help=False)

    from sim.decide.cli import add_parsers as add_decide_parsers  # sweep, plan, compare

    add_decide_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["fakes"]:
            from fakes.stack.cli import main as fakes_main

            return fakes_main(argv[1:])
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BootstormError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a harness failure (a missing module, a broken install): exit 3, no traceback
        print(harness_failure(exc), file=sys.stderr)
        return EXIT_RUN_FAILED


def harness_failure(exc: BaseException) -> str:
    """One line for an unexpected exception: what broke and where, without a traceback."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    hint = ""
    if isinstance(exc, ModuleNotFoundError):
        hint = "; the installation is incomplete: reinstall with `pip install -e .`"
    return f"error: harness failure: {type(exc).__name__}: {exc}{where}{hint}"


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped into a file or CI log: wide enough that table columns are not cut.
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 120)


def _cmd_run(args) -> int:
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


class _progress:
    """A rich progress bar on stderr over simulated time (only on a terminal)."""

    def __init__(self, quiet: bool, label: str = "simulating"):
        self.label = label
        self.enabled = not quiet and sys.stderr.isatty()
        self._bar = None
        self._task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn(self.label), BarColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), console=_console(stderr=True), transient=True,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("sim", total=1.0, status="")
        return self._update

    def _update(self, now, horizon, finished, size):
        self._bar.update(self._task, completed=min(1.0, now / horizon),
                         status=f"t={now:,.0f}s  {finished:,}/{size:,} instances done")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _print_plan(p) -> None:
    from rich.table import Table

    from sim.units import format_duration

    console = _console()
    console.print(f"[bold]{p.name}[/]: {p.size:,} instances, {p.arrival}; "
                  f"seed {p.seed}, horizon {format_duration(p.horizon)}")
    console.print("steps, in the order they can run:")
    for line in p.steps:
        console.print(f"  {line}")
    table = Table(title="demand on paper (first attempts, peak launch rate)")
    for col in ("operation", "calls/boot", "peak demand /s", "quota /s", "capacity /s"):
        table.add_column(col, justify="right" if col != "operation" else "left")
    for op in p.operations:
        table.add_row(op.operation, str(op.calls_per_boot), f"{op.peak_demand_rps:,.0f}",
                      "-" if op.quota_rps is None else f"{op.quota_rps:,.0f}",
                      f"{op.capacity_rps:,.0f}")
    console.print(table)
    for f in p.faults:
        console.print(f"fault: {f}")
    for s in p.slos:
        console.print(f"SLO: {s}")
    for w in p.warnings():
        console.print(f"[bold yellow]warning:[/] {w}")
    console.print("dry run: nothing was simulated")


def _cmd_validate(args) -> int:
    from sim.scenario import load_scenario
    from sim.scenario.slos import slo_warnings

    status = EXIT_OK
    for f in args.files:
        try:
            s = load_scenario(f, args.overrides)
        except InvalidInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(f"{f}: ok ({s.name}: {s.fleet.size:,} instances, {len(s.bootstrap.steps)} steps, "
              f"{len(s.dependencies)} dependencies, {len(s.faults)} faults, {len(s.slos)} SLOs)")
        for warning in slo_warnings(s.slos):  # valid, but an SLO that cannot do what it says
            print(f"{f}: warning: {warning}", file=sys.stderr)
    return status


def _cmd_schema(args) -> int:
    from sim.scenario import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def _cmd_report(args) -> int:
    from pathlib import Path

    from sim.errors import InvalidArgument
    from sim.report import render_console, report_from_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise InvalidArgument(f"{folder}: no such folder; expected a run folder written by "
                              "`bootstorm run`")
    if not (folder / "run.json").is_file():
        raise InvalidArgument(f"{folder}: not a run folder (no run.json); expected a folder "
                              "written by `bootstorm run`")
    summary = report_from_folder(folder, plots=not args.no_plots,
                                 allow_unmeasured=args.allow_unmeasured)
    render_console(summary, _console())
    print(f"report: {folder / 'report.md'}")
    return EXIT_OK if summary.slos_passed else EXIT_SLO_FAILED


def _cmd_calibrate(args) -> int:
    from sim.calibrate import calibrate
    from sim.errors import InvalidArgument
    from sim.scenario import load_scenario

    if args.seed is not None and args.seed < 0:
        raise InvalidArgument(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.time_scale is not None and not 0 < args.time_scale <= 1000:
        raise InvalidArgument(f"--time-scale: expected a number in (0, 1000], got {args.time_scale}")
    if args.workers is not None and args.workers < 1:
        raise InvalidArgument(f"--workers: expected an integer >= 1, got {args.workers}")
    scenario = load_scenario(args.scenario, args.overrides)
    scale = args.time_scale if args.time_scale is not None else scenario.load.time_scale
    outcome = calibrate(scenario, seed=args.seed, fit=args.fit, exec_engine=args.exec_engine,
                        time_scale=scale, workers=args.workers, out_dir=args.out,
                        scenario_file=args.scenario, plots=not args.no_plots,
                        log=lambda msg: print(msg, file=sys.stderr, flush=True))
    report = outcome.folder / "calibration.md"
    print(report.read_text())
    print(f"report: {report}")
    return EXIT_OK


def _cmd_decide(args) -> int:
    from sim.decide.cli import COMMANDS

    return COMMANDS[args.command](args)


_COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "schema": _cmd_schema,
             "report": _cmd_report, "calibrate": _cmd_calibrate, "sweep": _cmd_decide,
             "plan": _cmd_decide, "compare": _cmd_decide}

if __name__ == "__main__":
    sys.exit(main())
