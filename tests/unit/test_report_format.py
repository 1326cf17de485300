"""How numbers are shown, and that importing the report has no side effects."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

from sim.report.format import format_rate, format_seconds, format_value


@pytest.mark.parametrize("value, kind, shown", [
    (0.999, "ratio", "99.90%"),
    (0.99995, "ratio", "99.9950%"),
    (1.0, "ratio", "100.00%"),
    (119.6, "duration", "2m00s"),  # not 1m60s
    (59.96, "duration", "1m00s"),
    (0.0123, "duration", "12ms"),
    (0.0, "duration", "0s"),
    (12.5, "rate", "12.5/s"),
    (3.0, "count", "3"),
    (12345.6, "count", "12,346"),
    (1.0, "bool", "yes"),
    (0.0, "bool", "no"),
    (333.333, "per_mille", "333.33 per 1,000"),
    (math.nan, "ratio", "not measured"),
    (None, "count", "not measured"),
    (math.inf, "duration", "never"),
    (40.0, "rate", "40/s"),
    (math.nan, "rate", "not measured"),
])
def test_format_value(value, kind, shown):
    assert format_value(value, kind) == shown


def test_format_seconds_edges():
    assert format_seconds(math.nan) == "not measured"
    assert format_seconds(math.inf) == "never"
    assert format_seconds(0.0005) == "500µs"


def test_a_drain_time_without_faults_is_no_fault_not_unmeasured():
    from sim.report.format import dependency_cell

    assert dependency_cell({"time_to_drain": math.nan}, "time_to_drain", "duration", []) == "no fault"
    faults = [{"kind": "outage"}]
    assert dependency_cell({"time_to_drain": math.nan}, "time_to_drain", "duration", faults) \
        == "not measured"
    assert dependency_cell({"goodput": math.nan}, "goodput", "ratio", []) == "not measured"
    # Still not clean when the run ended: "never" within the run, a measurement.
    assert dependency_cell({"time_to_drain": math.inf}, "time_to_drain", "duration", faults) \
        == "never (in run)"


def test_format_rate():
    assert format_rate(40.0) == "40/s"
    assert format_rate(12.5) == "12.5/s"
    assert format_rate(1234.0) == "1,234/s"
    assert format_rate(math.inf) == "unlimited"


def test_importing_the_report_does_not_load_matplotlib():
    code = "import sys, sim.report, sim.metrics; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
