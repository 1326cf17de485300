"""Worked example, written as a user of bootstorm would: "full jitter keeps the config service
out of metastability; fixed retries do not".

The two shipped scenarios differ only in the retry policy (``retry-storm.yaml``: a fixed 200 ms
timer; ``retry-storm-jitter.yaml``: capped exponential backoff with full jitter). Both are run
at a quarter of their size (a quarter of the launch rate against a quarter of the config
service's workers: the same load ratio) for 10 minutes (the slow minute is 5m-6m), so the example takes seconds. Several
seeds per scenario: a claim about a policy should not rest on one lucky draw.
"""

import pytest

from sim.pytest_plugin import assert_metric, assert_slo

# A metric some seeds never reach ("never", +inf) is said so, not computed on: no warnings.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

QUARTER_SCALE = (
    "fleet.arrival.rate=7.5",
    "fleet.size=4500",
    "dependencies.config.concurrency=2",
    "run.horizon=10m",
)


@pytest.mark.bootstorm_scenario("scenarios/retry-storm-jitter.yaml", *QUARTER_SCALE)
def test_full_jitter_recovers_after_the_slow_minute(bootstorm_run):
    outcome = bootstorm_run(seeds=3)

    assert_slo(outcome, "dependencies.config.metastable")  # in every seed
    assert_metric(outcome, "dependencies.config.time_to_drain", "<=", "5m")
    assert_metric(outcome, "bootstrap_success_rate", ">=", "60%")


@pytest.mark.bootstorm_scenario("scenarios/retry-storm.yaml", *QUARTER_SCALE)
def test_fixed_retries_keep_the_service_overloaded(bootstorm_run):
    outcome = bootstorm_run(seeds=3)

    # Metastable in every seed: the overload outlives its trigger...
    assert outcome.slo_pass("dependencies.config.metastable == false") == 0
    assert_metric(outcome, "dependencies.config.metastable", "==", 1)
    # ...and most of the fleet never boots.
    assert_metric(outcome, "bootstrap_success_rate", "<", "60%")
    # The config service is still not clean when the runs end: "never", in every seed.
    assert outcome.metric("dependencies.config.time_to_drain").never == 1.0
