"""bootstorm's pytest plugin, end to end with pytester: fixtures, marker, options, messages."""

import os
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points

import pytest

from _decide_helpers import ROOT, STORM, cli_env

SMALL = ["fleet.size=200", "fleet.arrival.over=10s"]


def _plugin_args() -> list[str]:
    # Installed (pip install -e .): the pytest11 entry point loads it; otherwise load it by name.
    installed = any(ep.value == "sim.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "sim.pytest_plugin"]


@pytest.fixture
def run_pytest(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", cli_env()["PYTHONPATH"])

    def run(*args):
        return pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", *args)

    return run


def test_the_entry_point_is_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["pytest11"] == {"bootstorm": "sim.pytest_plugin"}


def test_importing_the_plugin_imports_neither_locust_nor_the_fakes_nor_the_harness():
    code = ("import sys, sim.pytest_plugin\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('locust', 'fakes', 'simpy',"
            " 'scipy', 'pyarrow', 'distributed', 'numpy', 'pydantic')"
            " or m.startswith(('sim.engines', 'sim.decide', 'sim.scenario', 'sim.metrics'))]\n"
            "print(sorted(heavy))\n")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_marker_fixtures_and_helpers_pass_and_fail_with_the_numbers(pytester, run_pytest, tmp_path):
    results = tmp_path / "runs"
    pytester.makepyfile(test_fleet=f"""
        import pytest
        from sim.pytest_plugin import assert_metric, assert_slo

        @pytest.mark.bootstorm_scenario({str(STORM)!r}, *{SMALL!r})
        def test_small_fleet_meets_its_slos(bootstorm_run, bootstorm_scenario):
            assert bootstorm_scenario().fleet.size == 200
            outcome = bootstorm_run()
            assert outcome.seeds == [42, 43]           # --bootstorm-seeds 2, from run.seed
            assert_slo(outcome)
            assert_metric(outcome, "time_to_ready.p95", "<=", "2m")
            assert_metric(outcome, "bootstrap_success_rate", ">=", 0.99)

        def test_overrides_and_a_path(bootstorm_run):
            outcome = bootstorm_run({str(STORM)!r}, *{SMALL!r}, "fleet.size=100", seeds=1)
            assert outcome.summary.instances == 100

        @pytest.mark.bootstorm_scenario({str(STORM)!r}, *{SMALL!r})
        def test_too_strict(bootstorm_run):
            assert_metric(bootstorm_run(), "time_to_ready.p95", "<=", 1)

        @pytest.mark.bootstorm_scenario({str(STORM)!r}, "fleet.size=1000", "fleet.arrival.over=10s")
        def test_slo_missed(bootstorm_run):
            assert_slo(bootstorm_run(), "dependencies.ssm.throttled_share")
    """)
    result = run_pytest("--bootstorm-seeds", "2", "--bootstorm-results", str(results), "-q")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    # the metric, the threshold, the interval over seeds and where the runs are
    assert "time_to_ready.p95 = " in out and "expected <= 1" in out
    assert "(mean of 2 seeds, 95% CI [" in out
    assert f"run folders: {results}" in out
    assert "dependencies.ssm.throttled_share <= 5%: passed in 0% of 2 seeds" in out
    # --bootstorm-results: every seed's run folder is kept there
    assert len(list(results.glob("autoscale-storm-sim-seed4[23]-*"))) == 2 + 1 + 2 + 2


def test_without_a_marker_or_path_the_loader_says_what_is_missing(pytester, run_pytest):
    pytester.makepyfile(test_nothing="""
        def test_no_scenario(bootstorm_scenario):
            bootstorm_scenario()
    """)
    result = run_pytest("-q")
    result.assert_outcomes(errors=0, failed=1)
    assert "needs a path, or a @pytest.mark.bootstorm_scenario" in result.stdout.str()


def test_the_engine_is_selectable(pytester, run_pytest):
    pytester.makepyfile(test_engine=f"""
        import pytest
        from sim.errors import InvalidArgument

        def test_engine(bootstorm_run):
            with pytest.raises(InvalidArgument, match="available: sim, exec"):
                bootstorm_run({str(STORM)!r}, engine="warp")
            assert bootstorm_run({str(STORM)!r}, *{SMALL!r}, engine="sim").engine == "sim"
    """)
    run_pytest("-q").assert_outcomes(passed=1)


def test_plugin_options_are_in_pytest_help(pytester, run_pytest):
    out = run_pytest("--help").stdout.str()
    assert "--bootstorm-seeds" in out and "--bootstorm-results" in out


def test_plugin_does_not_break_a_suite_that_never_uses_it(pytester, run_pytest):
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result = run_pytest("-q", "--markers")
    assert "bootstorm_scenario(path, *overrides)" in result.stdout.str()
    run_pytest("-q").assert_outcomes(passed=1)
