"""bootstorm: a chaos and load simulation harness for instance bootstrap scripts.

The public API::

    from sim import load_scenario, run_scenario
    scenario = load_scenario("scenarios/autoscale-storm.yaml", ["fleet.size=2000"])
    outcome = run_scenario(scenario, out_dir="results")   # or out_dir=None: nothing written
    outcome.summary.metrics["time_to_ready.p95"], outcome.summary.slos_passed

``simulate`` returns the raw ``Run``; ``summarize`` turns any Run into metrics and verdicts.
"""

from importlib import import_module

# Imported on first use (PEP 562): `import sim` alone, as pytest does when it loads the plugin
# in sim.pytest_plugin for every test session, must not pay for numpy, pydantic and the models.
_LAZY = {
    "BootstormError": "sim.errors",
    "FakeFailed": "sim.errors",
    "InvalidArgument": "sim.errors",
    "InvalidInput": "sim.errors",
    "InvalidScenario": "sim.errors",
    "RunFailed": "sim.errors",
    "Summary": "sim.metrics",
    "summarize": "sim.metrics",
    "Run": "sim.results",
    "RunOutcome": "sim.runner",
    "run_scenario": "sim.runner",
    "simulate": "sim.runner",
    "Scenario": "sim.scenario",
    "load_scenario": "sim.scenario",
    "parse_scenario": "sim.scenario",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


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
