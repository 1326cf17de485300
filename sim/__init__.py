"""bootstorm: a chaos and load simulation harness for instance bootstrap scripts.

The public API::

    from sim import load_scenario, run_scenario
    scenario = load_scenario("scenarios/autoscale-storm.yaml", ["fleet.size=2000"])
    outcome = run_scenario(scenario, out_dir="results")   # or out_dir=None: nothing written
    outcome.summary.metrics["time_to_ready.p95"], outcome.summary.slos_passed

``simulate`` returns the raw ``Run``; ``summarize`` turns any Run into metrics and verdicts.
"""

from sim.errors import (
    BootstormError,
    FakeFailed,
    InvalidArgument,
    InvalidInput,
    InvalidScenario,
    RunFailed,
)
from sim.metrics import Summary, summarize
from sim.results import Run
from sim.runner import RunOutcome, run_scenario, simulate
from sim.scenario import Scenario, load_scenario, parse_scenario

__all__ = [
    "load_scenario",
    "parse_scenario",
    "Scenario",
    "simulate",
    "run_scenario",
    "RunOutcome",
    "Run",
    "summarize",
    "Summary",
    "BootstormError",
    "InvalidInput",
    "InvalidScenario",
    "InvalidArgument",
    "RunFailed",
    "FakeFailed",
]
