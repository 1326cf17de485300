"""``bootstorm validate``, ``schema``, ``report``, ``calibrate`` and the hand-off of ``sweep``,
``plan`` and ``compare`` to `sim.decide.cli`."""

from __future__ import annotations

import json
import sys

from sim.cli.console import make_console as _console
from sim.cli.exits import EXIT_BAD_INPUT, EXIT_OK, EXIT_SLO_FAILED
from sim.errors import InvalidInput

__all__ = ["cmd_validate", "cmd_schema", "cmd_report", "cmd_calibrate", "cmd_decide"]


def cmd_validate(args) -> int:
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


def cmd_schema(args) -> int:
    from sim.scenario import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_report(args) -> int:
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


def cmd_calibrate(args) -> int:
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


def cmd_decide(args) -> int:
    from sim.decide.cli import COMMANDS

    return COMMANDS[args.command](args)
