"""Golden files: each shipped scenario, small and seeded, gives exactly the recorded numbers.

A change to the model that moves any of them fails here on purpose. When the change is
intended, regenerate and review the diff:

    BOOTSTORM_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_golden.py
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from sim import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SMALL = {  # overrides that make each scenario take well under a second
    "autoscale-storm": ["fleet.size=300", "fleet.arrival.over=2s"],
    "retry-storm": ["fleet.size=4000", "fleet.arrival.rate=10", "run.horizon=8m"],
    "retry-storm-jitter": ["fleet.size=4000", "fleet.arrival.rate=10", "run.horizon=8m"],
    "credential-expiry": ["fleet.size=100"],
    "secrets-partition": ["fleet.size=200"],
    "iam-misconfig": ["fleet.size=100"],
    "asset-download": ["fleet.size=200"],
    "telemetry-gap": ["fleet.size=100"],
    "cluster-join": ["fleet.size=100"],
}
UPDATE = os.environ.get("BOOTSTORM_UPDATE_GOLDEN") == "1"


def _rounded(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(f"{value:.9g}")


@pytest.mark.parametrize("name", sorted(SMALL))
def test_seeded_scenario_matches_its_golden_file(name):
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml", SMALL[name])
    summary = run_scenario(scenario, out_dir=None).summary
    got = {
        "attempts": summary.attempts,
        "outcomes": summary.outcomes,
        "error_classes": summary.error_classes,
        "metrics": {k: _rounded(v) for k, v in sorted(summary.metrics.items())},
        "verdicts": {v.slo: v.passed for v in summary.verdicts},
    }
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert got == expected
