"""Sweeps, plans, comparisons and the plugin judge only the SLOs that apply to the engine they
ran: an SLO scoped to another engine (``... on exec``) is never counted as met in any share of
seeds, and an unmeasured one counts as failed."""

from pathlib import Path

from sim.decide.outcome import replicate
from sim.decide.task import applicable_slos, judged_slos
from sim.scenario import load_scenario

PARTITION = Path(__file__).resolve().parents[2] / "scenarios" / "secrets-partition.yaml"
EXEC_ONLY = "secret_exposure_events <= 0 on exec"


def _small():
    return load_scenario(str(PARTITION), ["fleet.size=40", "faults=[]", "run.horizon=30m"])


def test_an_slo_scoped_to_exec_is_left_out_of_a_sim_replication():
    scenario = _small()
    assert EXEC_ONLY in [s.text for s in scenario.slos]  # the shipped scope this guards
    assert EXEC_ONLY not in applicable_slos(scenario, "sim")
    assert EXEC_ONLY in applicable_slos(scenario, "exec")
    outcome = replicate(scenario, seeds=[1, 2])
    assert EXEC_ONLY not in outcome.stats.slo_pass  # not "met in 100% of seeds"
    assert set(outcome.stats.slo_pass) == set(applicable_slos(scenario, "sim"))
    for summary in outcome.summaries:
        judged = judged_slos(summary.verdicts)
        assert EXEC_ONLY not in judged
        assert len(judged) == len(summary.verdicts) - 1


def test_an_unmeasured_slo_that_applies_counts_as_failed():
    scenario = load_scenario(str(PARTITION), ["fleet.size=40", "faults=[]", "run.horizon=30m",
                                              "slos=['secret_exposure_events <= 0']"])
    outcome = replicate(scenario, seeds=[1, 2])  # the sim engine cannot measure it
    assert outcome.stats.slo_pass == {"secret_exposure_events <= 0": 0.0}
    assert outcome.stats.all_pass == 0.0
