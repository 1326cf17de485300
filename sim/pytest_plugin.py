"""bootstorm in pytest: scenario, runner and fakes fixtures, a marker, assertion helpers.

Registered through the ``pytest11`` entry point (``pip install bootstorm`` enables it).
Importing this module imports nothing but pytest: the harness, the fakes and Locust are
imported when a fixture is first used, so a test suite that never asks for them pays nothing.

    import pytest
    from sim.pytest_plugin import assert_metric, assert_slo

    @pytest.mark.bootstorm_scenario("scenarios/retry-storm-jitter.yaml", "fleet.size=5000")
    def test_recovers(bootstorm_run):
        outcome = bootstorm_run(seeds=3)            # the marker's scenario, seeds 7, 8, 9
        assert_slo(outcome, "dependencies.config.metastable")
        assert_metric(outcome, "dependencies.config.time_to_drain", "<=", "5m")

Fixtures
    bootstorm_scenario   load(path=None, *overrides) -> Scenario; path defaults to the marker's
    bootstorm_run        run(scenario=None, *overrides, seeds=None, engine="sim") -> Outcome
    bootstorm_fakes      one real fakes stack (moto, gate, IMDS, sinks, toxiproxy) per session
Options
    --bootstorm-seeds N      seeds per run when a test does not say (default 1)
    --bootstorm-results DIR  keep run folders there (default: pytest's temporary directory)

The fixture names avoid ``session`` and ``fastsession``: Locust's own pytest plugin has those.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["assert_metric", "assert_slo"]

_MARKER = "bootstorm_scenario"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("bootstorm", "bootstorm chaos/load scenarios")
    group.addoption("--bootstorm-seeds", type=int, default=None, metavar="N",
                    help="seeds per bootstorm run when a test does not say (default 1); seed i "
                    "is the scenario's run.seed + i")
    group.addoption("--bootstorm-results", default=None, metavar="DIR",
                    help="write bootstorm run folders under DIR (default: pytest's tmp dir)")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", f"{_MARKER}(path, *overrides): the scenario file (and --set overrides) the "
        "bootstorm_scenario and bootstorm_run fixtures use by default")


def assert_metric(outcome, metric: str, op: str, threshold) -> None:
    """Fail unless ``metric``'s mean over the outcome's seeds is ``op threshold``
    (``threshold``: a number in base units, or with a unit as in an SLO: ``2m``, ``99%``)."""
    from sim.decide.outcome import check_metric

    message = check_metric(outcome, metric, op, threshold)
    if message:
        raise AssertionError(message)


def assert_slo(outcome, slo: str | None = None, probability: float = 1.0) -> None:
    """Fail unless every SLO (or the one named by its text or metric) passed in at least
    ``probability`` of the seeds."""
    from sim.decide.outcome import check_slos

    message = check_slos(outcome, slo, probability)
    if message:
        raise AssertionError(message)


def _resolve(path: str | Path, request) -> Path:
    """A scenario path as written: from the working directory, else beside the test file,
    else from the rootdir."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    for base in (Path(request.node.path).parent, Path(request.config.rootpath)):
        if (base / p).exists():
            return base / p
    return p  # the loader names the missing file


@pytest.fixture
def bootstorm_scenario(request):
    """``load(path=None, *overrides)``: a validated Scenario; without a path, the
    ``@pytest.mark.bootstorm_scenario(path, *overrides)`` marker's (its overrides first)."""
    from sim.scenario import load_scenario

    marker = request.node.get_closest_marker(_MARKER)

    def load(path=None, *overrides):
        marker_overrides: tuple = ()
        if path is None:
            if marker is None or not marker.args:
                raise pytest.UsageError(
                    f"{request.node.nodeid}: bootstorm_scenario() needs a path, or a "
                    f"@pytest.mark.{_MARKER}('scenarios/x.yaml') marker on the test")
            path, marker_overrides = marker.args[0], tuple(marker.args[1:])
        return load_scenario(_resolve(path, request), [*marker_overrides, *overrides])

    return load


@pytest.fixture
def bootstorm_run(request, bootstorm_scenario, tmp_path_factory):
    """``run(scenario=None, *overrides, seeds=None, engine="sim", seed=None, plots=False)``:
    run a Scenario or a path (None: the marker's) once per seed and return an Outcome (means,
    95% intervals, SLO pass shares, run folders). ``seeds``: how many (default
    --bootstorm-seeds or 1), from the scenario's run.seed, or ``seed`` to start elsewhere."""
    from sim.decide.outcome import replicate

    config = request.config
    results = config.getoption("bootstorm_results", default=None)
    default_seeds = config.getoption("bootstorm_seeds", default=None) or 1

    def run(scenario=None, *overrides, seeds: int | None = None, engine: str = "sim",
            seed: int | None = None, plots: bool = False):
        if scenario is None or isinstance(scenario, (str, Path)):
            scenario_file = None if scenario is None else str(scenario)
            scenario = bootstorm_scenario(scenario, *overrides)
        elif overrides:
            raise TypeError("overrides go with a scenario path (or the marker), not with a "
                            "loaded Scenario: pass them to bootstorm_scenario()")
        else:
            scenario_file = None
        n = default_seeds if seeds is None else seeds
        first = scenario.run.seed if seed is None else seed
        out_dir = Path(results) if results else tmp_path_factory.mktemp("bootstorm")
        return replicate(scenario, seeds=[first + i for i in range(n)], engine=engine,
                         out_dir=out_dir, plots=plots, scenario_file=scenario_file)

    return run


@pytest.fixture(scope="session")
def bootstorm_fakes():
    """The real fakes (each its own process on a free 127.0.0.1 port), started once per test
    session and stopped at its end: a ``fakes.stack.Stack`` (``endpoints``, ``add_instance``,
    ``apply_fault``, ``request_log``)."""
    from fakes.stack import Stack

    with Stack() as stack:
        yield stack
