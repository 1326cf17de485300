"""--vary parsing and the points of a sweep (sim.decide.space), and the journal."""

import json

import numpy as np
import pytest

from sim.decide.journal import Journal
from sim.decide.space import build_points, parse_vary, point_overrides
from sim.errors import InvalidArgument


def test_a_grid_is_the_product_of_the_listed_values():
    points = build_points([parse_vary("fleet.size=100,200"),
                           parse_vary("bootstrap.steps.0.retry.kind=fixed,full_jitter")], None, 1)
    assert points == [
        {"fleet.size": 100, "bootstrap.steps.0.retry.kind": "fixed"},
        {"fleet.size": 100, "bootstrap.steps.0.retry.kind": "full_jitter"},
        {"fleet.size": 200, "bootstrap.steps.0.retry.kind": "fixed"},
        {"fleet.size": 200, "bootstrap.steps.0.retry.kind": "full_jitter"},
    ]
    # JSON values are YAML: the string stays a string for the loader
    assert point_overrides(points[1]) == ["fleet.size=100",
                                          'bootstrap.steps.0.retry.kind="full_jitter"']


def test_latin_hypercube_puts_one_sample_in_each_stratum_and_is_seeded():
    varies = [parse_vary("a=0..1.0"), parse_vary("b=10.0..20.0")]
    points = build_points(varies, 8, seed=42)
    assert points == build_points(varies, 8, seed=42)
    assert points != build_points(varies, 8, seed=43)
    for name, low, high in (("a", 0, 1), ("b", 10, 20)):
        strata = sorted(int((p[name] - low) / (high - low) * 8) for p in points)
        assert strata == list(range(8))  # the Latin hypercube property


def test_integer_ranges_give_integers():
    points = build_points([parse_vary("fleet.size=1000..5000")], 5, seed=1)
    assert all(isinstance(p["fleet.size"], int) and 1000 <= p["fleet.size"] <= 5000
               for p in points)


@pytest.mark.parametrize("text, samples, expected", [
    ("fleet.size", None, "PATH=V1,V2"),
    ("=1,2", None, "dotted field path"),
    ("fleet.size=1,,2", None, "comma-separated"),
    ("fleet.size=1,1", None, "listed twice"),
    ("fleet.size=a..b", 3, "two numbers"),
    ("fleet.size=5..1", 3, "LOW < HIGH"),
    ("fleet.size=1..5", None, "needs --samples"),
    ("fleet.size=1,5", 4, "only for ranges"),
])
def test_bad_vary_is_a_clear_argument_error(text, samples, expected):
    with pytest.raises(InvalidArgument, match=expected):
        build_points([parse_vary(text)], samples, 1)


def test_journal_cuts_a_torn_last_line_and_keeps_appending(tmp_path):
    journal = Journal(tmp_path / "runs.jsonl")
    journal.append({"point": "p", "seed": 1, "metrics": {"x": float("nan")}, "slos": {}})
    with open(tmp_path / "runs.jsonl", "a") as f:
        f.write('{"point": "p", "seed": 2, "metr')  # SIGKILL in the middle of a write
    done = journal.load()
    assert list(done) == [("p", 1)]
    assert np.isnan(done[("p", 1)]["metrics"]["x"])
    journal.append({"point": "p", "seed": 2, "metrics": {}, "slos": {}})
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["seed"] for line in lines] == [1, 2]


def test_a_narrow_integer_range_runs_each_value_once():
    points = build_points([parse_vary("fleet.size=1..3")], 10, seed=1)
    assert sorted(p["fleet.size"] for p in points) == [1, 2, 3]


def test_grid_values_may_be_mappings():
    vary = parse_vary("bootstrap.steps.5.retry={kind: fixed, delay: 1s},{kind: full_jitter}")
    assert vary.values == ({"kind": "fixed", "delay": "1s"}, {"kind": "full_jitter"})
    assert parse_vary("run.horizon=10m,1h").values == ("10m", "1h")
