"""Choosing the exec engine's isolation: the scenario field, the CLI flag, and their errors.

No namespace is made here (tests/integration/test_netns_*.py do that, as root)."""

from __future__ import annotations

import pytest

from _scenario_fixtures import BASE_YAML, write
from sim.cli import main
from sim.engines.exec.isolation import EnvIsolation, choose_isolation
from sim.scenario import load_scenario


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_exec_section_takes_an_isolation_mode_and_defaults_to_auto(tmp_path):
    good = write(tmp_path, BASE_YAML, "good.yaml")
    assert load_scenario(good).exec.isolation == "auto"
    assert load_scenario(good, ["exec.isolation=env"]).exec.isolation == "env"


def test_an_unknown_isolation_in_the_scenario_exits_2_naming_the_field(capsys, tmp_path):
    good = write(tmp_path, BASE_YAML, "good.yaml")
    code, _, err = run_cli(capsys, "validate", good, "--set", "exec.isolation=vm")
    assert code == 2
    assert "exec.isolation" in err and "'netns'" in err and "vm" in err


def test_an_unknown_isolation_flag_exits_2(capsys, tmp_path):
    good = write(tmp_path, BASE_YAML, "good.yaml")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(good), "--engine", "exec", "--isolation", "vm"])
    assert exit_.value.code == 2
    assert "invalid choice: 'vm'" in capsys.readouterr().err


def test_the_isolation_flag_is_refused_for_the_sim_engine(capsys, tmp_path):
    good = write(tmp_path, BASE_YAML, "good.yaml")
    code, _, err = run_cli(capsys, "run", good, "--engine", "sim", "--isolation", "netns",
                           "--out", tmp_path / "results")
    assert code == 2
    assert "--isolation: applies to --engine exec only, not 'sim'" in err
    assert not (tmp_path / "results").exists()


def test_env_is_chosen_without_probing_and_bad_modes_are_refused():
    assert isinstance(choose_isolation("env"), EnvIsolation)
    assert choose_isolation("env").why is None
    with pytest.raises(ValueError, match="isolation: expected one of auto, netns, env, got 'vm'"):
        choose_isolation("vm")


def test_a_fallback_to_env_is_a_warning_and_asking_for_env_is_not():
    from sim.engines.exec.isolation import isolation_notes

    assert isolation_notes(EnvIsolation(), []) == []
    (note,) = isolation_notes(EnvIsolation("not running as root"), [])
    assert "isolation env, not netns (not running as root)" in note


@pytest.mark.parametrize("kind, target", [("partition", "secretsmanager"), ("expire_credentials", "instances")])
def test_a_per_instance_fault_is_for_imds_only(kind, target):
    from fakes.stack.faults import apply_fault
    from sim.errors import InvalidInput

    with pytest.raises(InvalidInput, match="'instance' applies to imds faults only"):
        apply_fault(None, kind, target, instance="i-0123456789abcdef0")  # refused before any fake
