"""The ``bootstorm`` argument parser: every subcommand, its options and its --help text."""

from __future__ import annotations

import argparse
import sys

from sim.cli.exits import EXIT_BAD_INPUT

__all__ = ["EPILOG", "build_parser"]

EPILOG = """\
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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="bootstorm",
        description="Chaos and load simulation harness for instance bootstrap scripts: replay "
        "an autoscale storm, token expiry or a partition against your fleet's boot, and "
        "measure time to ready, failures, retries and dependency load.",
        epilog=EPILOG,
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
