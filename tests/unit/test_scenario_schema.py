"""``bootstorm schema``: the JSON Schema editors use must accept every shipped scenario.

Judged by a standard validator (the ``jsonschema`` package), not by our own loader: a schema
that rejects what bootstorm accepts makes editors flag good files.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # the test extra: a missing validator fails here, it is not skipped
import pytest
import yaml

from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _schema(capsys) -> dict:
    assert main(["schema"]) == 0
    return json.loads(capsys.readouterr().out)


def _errors(schema: dict, data) -> list[str]:
    v = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(data)]


def test_the_schema_is_a_valid_json_schema(capsys):
    jsonschema.Draft202012Validator.check_schema(_schema(capsys))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_validates_against_the_schema(capsys, path):
    errors = _errors(_schema(capsys), yaml.safe_load(path.read_text()))
    assert errors == []


def test_an_slo_mapping_with_a_yaml_boolean_is_accepted_by_both(capsys):
    from sim.scenario.slos import SLO

    slo = {"metric": "dependencies.ssm.metastable", "op": "==", "value": False}
    assert SLO.model_validate(slo).threshold == 0.0
    schema = _schema(capsys)
    data = yaml.safe_load((ROOT / "scenarios" / "autoscale-storm.yaml").read_text())
    data["slos"].append(slo)
    assert _errors(schema, data) == []


def test_the_schema_still_rejects_what_bootstorm_rejects(capsys):
    schema = _schema(capsys)
    data = yaml.safe_load((ROOT / "scenarios" / "autoscale-storm.yaml").read_text())
    data["slos"].append("time to ready is fine")  # not METRIC OP VALUE
    data["slos"].append({"metric": "time_to_ready.p95", "op": "<=", "value": "1m",
                         "threshold": 60})  # computed fields are not for files
    data["bootstrap"]["steps"][0]["mark"] = "soon"  # not a mark
    data["bootstrap"]["steps"][1]["retries"] = 3  # not a field
    data["run"]["horizon"] = "a while"  # not a duration
    errors = _errors(schema, data)
    for place in ("slos.5", "slos.6", "bootstrap.steps.0.mark", "bootstrap.steps.1", "run.horizon"):
        assert any(e.startswith(place + ":") for e in errors), (place, errors)
