"""Scenario files: schema, loading and validation.

A scenario is validated completely before anything runs; every problem is reported with the
file, the field path, the line, what was expected and what was given.
"""

from sim.scenario.loader import apply_override, json_schema, load_scenario, parse_scenario, scenario_hash
from sim.scenario.model import RunSettings, Scenario
from sim.scenario.slos import SLO

__all__ = [
    "Scenario",
    "RunSettings",
    "SLO",
    "load_scenario",
    "parse_scenario",
    "apply_override",
    "scenario_hash",
    "json_schema",
]
