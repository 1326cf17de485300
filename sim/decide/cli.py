"""The ``sweep``, ``plan`` and ``compare`` subcommands: parse, call ``sim.decide``, print.

``sim.cli`` adds these parsers with ``add_parsers(sub)`` and dispatches to ``COMMANDS``.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

__all__ = ["add_parsers", "COMMANDS"]

_SWEEP_EPILOG = """\
examples:
  bootstorm sweep scenarios/autoscale-storm.yaml --vary fleet.size=5000,10000,20000 --seeds 5
  bootstorm sweep scenarios/autoscale-storm.yaml --vary fleet.size=5000,20000 \\
      --vary dependencies.ssm.operations.GetParameter.quota.rate=40,100,1000 --seeds 3
  bootstorm sweep scenarios/autoscale-storm.yaml --vary fleet.size=1000..20000 \\
      --vary fleet.arrival.over=60..600 --samples 20 --seeds 3
  bootstorm sweep ... --cluster tcp://127.0.0.1:8786      # on a Dask scheduler's workers

The same command run again resumes a killed sweep (its folder is named by a hash of the
sweep, and runs.jsonl holds every finished run). See docs/decisions.md.
"""

_PLAN_EPILOG = """\
examples:
  bootstorm plan scenarios/autoscale-storm.yaml --find max fleet.size --within 1000..100000
  bootstorm plan scenarios/autoscale-storm.yaml \\
      --find min dependencies.ssm.operations.GetParameter.quota.rate --within 40..10000 \\
      --seeds 10 --probability 0.9
"""

_COMPARE_EPILOG = """\
examples:
  bootstorm compare results/run-a results/run-b
  bootstorm compare scenarios/autoscale-storm.yaml --baseline '' --seeds 10 \\
      --candidate '--set bootstrap.steps.5.retry.kind=full_jitter --set bootstrap.steps.5.retry.max_attempts=10'
  bootstorm compare A B --fail-on-regression time_to_ready.p95:10s \\
      --fail-on-regression bootstrap_success_rate:0.5%

THRESHOLD is in the metric's base unit (seconds, fraction, count; a duration like 10s is
accepted) or N% of the baseline's value. Exit 1 when a checked metric is significantly worse
by more than its threshold, or was not measured.

"never" (a percentile some instances never reached): over seeds, B - A compares the share of
seeds that never reached it; between two run folders, never is a value above all others
("B never"). A missing or corrupt file in a run folder exits 2 naming it. See
docs/decisions.md.
"""


def _common(p, seeds_default: int) -> None:
    p.add_argument("--seeds", type=int, default=seeds_default,
                   help=f"replications per point; seed i is run.seed + i at every point "
                   f"(common random numbers; default {seeds_default})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field for every run (repeatable)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: every core this process may use)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs "
                   "pip install 'bootstorm[cluster]' here and bootstorm on the workers)")
    p.add_argument("--out", default="results", help="parent folder of the output (default: results)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_parsers(sub) -> None:
    import argparse

    fmt = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser("sweep", help="run a scenario over a grid or Latin hypercube of values",
                       description="Run SCENARIO at every point of a grid (--vary PATH=V1,V2) "
                       "or a Latin hypercube over ranges (--vary PATH=LOW..HIGH --samples K), "
                       "N seeds per point, in parallel. Writes sweep.csv/sweep.parquet (a row "
                       "per run and per point: every metric's mean and 95% CI, each SLO's "
                       "pass probability) and plots.", epilog=_SWEEP_EPILOG, formatter_class=fmt)
    s.add_argument("scenario", help="scenario YAML file")
    s.add_argument("--vary", action="append", default=[], metavar="PATH=VALUES",
                   help="a field and its values: V1,V2,... (grid) or LOW..HIGH (needs --samples);"
                   " repeatable")
    s.add_argument("--samples", type=int, default=None,
                   help="Latin-hypercube points over the ranges (seeded by run.seed)")
    s.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    _common(s, 3)

    p = sub.add_parser("plan", help="find the largest/smallest value that meets every SLO",
                       description="Bisect one scenario field for the largest (max) or smallest "
                       "(min) value at which every SLO passes in at least --probability of "
                       "--seeds seeded runs. Assumes the answer is monotone in the field. "
                       "Prints the answer, its pass/fail bracket and the binding SLO; writes "
                       "plan.json, plan.csv and an SLO frontier plot.",
                       epilog=_PLAN_EPILOG, formatter_class=fmt)
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--find", nargs=2, required=True, metavar=("max|min", "PATH"),
                   help="max or min, then the field's dotted path")
    p.add_argument("--within", required=True, metavar="LOW..HIGH",
                   help="the range to search; integers give an integer search")
    p.add_argument("--probability", type=float, default=0.95,
                   help="required share of seeds meeting every SLO (default 0.95)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="stop when the bracket is this narrow (default: 1%% of the range)")
    p.add_argument("--no-plots", action="store_true", help="skip the frontier plot")
    _common(p, 10)

    c = sub.add_parser("compare", help="compare two runs, or two variants of a scenario",
                       description="compare RUN_A RUN_B: two run folders. compare SCENARIO "
                       "--baseline '--set ...' --candidate '--set ...' --seeds N: both "
                       "variants on the same seeds. For each metric: B - A with a 95% CI, a "
                       "verdict (better, worse, no significant difference); Mann-Whitney U and "
                       "Kolmogorov-Smirnov tests on time to ready. Markdown (default) or JSON.",
                       epilog=_COMPARE_EPILOG, formatter_class=fmt)
    c.add_argument("targets", nargs="+", metavar="RUN_A RUN_B | SCENARIO")
    c.add_argument("--baseline", default=None, metavar="'--set ...'")
    c.add_argument("--candidate", default=None, metavar="'--set ...'")
    c.add_argument("--fail-on-regression", action="append", default=[], metavar="METRIC:THRESHOLD")
    c.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    c.add_argument("--write", default=None, metavar="DIR",
                   help="also write compare.md and compare.json into DIR")
    _common(c, 10)


@contextmanager
def _bar(quiet: bool, label: str):
    """A rich progress bar with ETA on stderr (only on a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task(label, total=None)

        def update(done, total):
            bar.update(task, completed=done, total=total)

        yield update


def _cmd_sweep(args) -> int:
    from sim.decide import open_executor, prepare_sweep, run_sweep, sweep_folder

    plan = prepare_sweep(args.scenario, args.vary, samples=args.samples, seeds=args.seeds,
                         overrides=args.overrides)
    folder = sweep_folder(plan, args.out)
    with open_executor(args.cluster, args.workers) as executor, _bar(args.quiet, "sweep") as bar:
        result = run_sweep(plan, executor, folder, progress=bar, plots=not args.no_plots)
    _print_points(result)
    print(f"sweep: {len(plan.points)} points x {len(plan.seeds)} seeds, {result.ran} run now "
          f"({len(plan.points) * len(plan.seeds) - result.ran} from the journal)")
    print(f"table: {folder / 'sweep.csv'}")
    return 0


def _print_points(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from sim.decide.table import ALL_SLOS
    from sim.metrics import parse_slos

    metrics = list(dict.fromkeys(s.metric for s in parse_slos(result.plan.slos)))
    table = Table(title=f"{result.plan.scenario_name}: {len(result.plan.seeds)} seeds per point")
    for p in result.plan.params:
        table.add_column(p, justify="right")
    table.add_column("P(all SLOs)", justify="right")
    for m in metrics:
        table.add_column(f"{m}\nmean [95% CI]", justify="right")
    for row in result.points:
        cells = [_cell(row[p]) for p in result.plan.params] + [f"{row[ALL_SLOS]:.2f}"]
        cells += [_mean_cell(row, m, len(result.plan.seeds)) for m in metrics]
        table.add_row(*cells)
    Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(table)


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if isinstance(v, float):
        return "never" if v == float("inf") else f"{v:.4g}"
    return str(v)


def _mean_cell(row: dict, metric: str, seeds: int) -> str:
    """``12.5 [11, 14]``; ``never in 2 of 6 seeds`` when some seeds never reached the metric
    (a mean with a +inf term has no finite interval)."""
    from sim.decide.fmt import fmt_never

    never = row.get(f"{metric}.never") or 0.0
    if row.get(metric) == float("inf") and never > 0:
        return fmt_never(never, int(row.get("seeds") or seeds))
    return f"{_cell(row.get(metric))} [{_cell(row.get(metric + '.ci_low'))}, " \
           f"{_cell(row.get(metric + '.ci_high'))}]"


def _cmd_plan(args) -> int:
    from sim.decide import open_executor
    from sim.decide.plan import find_limit, parse_within, write_plan
    from sim.errors import InvalidArgument

    goal, param = args.find
    if goal not in ("max", "min"):
        raise InvalidArgument(f"--find expects 'max PATH' or 'min PATH', got {goal!r} {param!r}")
    low, high, integer = parse_within(args.within)
    say = None if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    with open_executor(args.cluster, args.workers) as executor:
        result = find_limit(args.scenario, param, goal, (low, high), executor=executor,
                            integer=integer, probability=args.probability, seeds=args.seeds,
                            overrides=args.overrides, tolerance=args.tolerance, progress=say)
    folder = write_plan(result, args.out, plots=not args.no_plots)
    _print_plan(result, args)
    print(f"plan: {folder / 'plan.json'}")
    return 0 if result.answer is not None else 1


def _print_plan(result, args) -> None:
    p = f"P >= {result.probability:g} over {len(result.seeds)} seeds"
    if result.answer is None:
        print(f"no value of {result.param} in {args.within} meets every SLO ({p}); at "
              f"{result.failing:g} the binding SLO is: {result.binding_slo}")
        return
    print(f"{result.goal} {result.param} = {result.answer:g} ({p})")
    if result.failing is None:
        end = "up to the end" if result.goal == "max" else "down to the start"
        print(f"  every value {end} of the range met every SLO; widen --within to find the limit")
        return
    print(f"  bracket: {result.passing:g} passes, {result.failing:g} fails")
    print(f"  binding SLO: {result.binding_slo}")


def _cmd_compare(args) -> int:
    from sim.decide import open_executor
    from sim.decide.compare import (compare_folders, compare_scenarios, parse_regression,
                                    parse_set_options, regressions, write_comparison)
    from sim.errors import InvalidArgument

    checks = [parse_regression(t) for t in args.fail_on_regression]
    if len(args.targets) == 2:
        if args.baseline is not None or args.candidate is not None:
            raise InvalidArgument("--baseline/--candidate go with one SCENARIO, not two run "
                                  "folders")
        comparison = compare_folders(*args.targets)
    elif len(args.targets) == 1:
        if args.baseline is None or args.candidate is None:
            raise InvalidArgument(f"compare {args.targets[0]}: one scenario needs --baseline "
                                  "'--set ...' and --candidate '--set ...' (either may be '')")
        baseline = parse_set_options(args.baseline, "--baseline")
        candidate = parse_set_options(args.candidate, "--candidate")
        with open_executor(args.cluster, args.workers) as ex, _bar(args.quiet, "compare") as bar:
            comparison = compare_scenarios(args.targets[0], baseline, candidate,
                                           seeds=args.seeds, executor=ex,
                                           overrides=args.overrides, progress=bar)
    else:
        raise InvalidArgument(f"compare expects RUN_A RUN_B or one SCENARIO, got "
                              f"{len(args.targets)} arguments")
    print(comparison.to_json() if args.json else comparison.to_markdown())
    if args.write:
        write_comparison(comparison, args.write)
    failures = regressions(comparison, checks)
    for f in failures:
        print(f"regression: {f}", file=sys.stderr)
    return 1 if failures else 0


COMMANDS = {"sweep": _cmd_sweep, "plan": _cmd_plan, "compare": _cmd_compare}
