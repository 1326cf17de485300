"""The exec engine against the real fakes, with tiny bootstrap scripts (one shared stack)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from sim.engines.exec import run
from sim.engines.exec.netns import netns_unavailable
from sim.errors import InvalidInput
from sim.report import write_report

from tests.integration._exec_fixtures import (DUMP_ENV, FETCH_SECRET, REGISTER, SLEEP_FOREVER, pid_alive, read_pids,
                             scenario, script)


def outcomes(result) -> list[str]:
    return list(result.attempts.outcome)


def test_registered_scripts_are_ready_at_their_registration(fake_stack_session, tmp_path):
    result = run(scenario(script(tmp_path, "register", REGISTER), size=5), stack=fake_stack_session)
    t = result.attempts
    assert outcomes(result) == ["ready"] * 5
    assert result.meta.engine == "exec" and not result.meta.partial
    ready, start = t.column("ready_time"), t.column("start")
    assert np.all(ready >= start) and np.all(ready <= result.meta.sim_end)
    assert np.all(t.column("mark_ready") == ready)
    assert list(t.column("calls")) == [1] * 5  # one registration each
    assert t.steps == ["registry.Register"]
    assert np.all(t.column("cpu_seconds") > 0)  # a Python interpreter start costs CPU
    registry = result.dependencies["registry"]
    assert registry.counts["served"].sum() == 5 and registry.counts["needed"].sum() == 5
    # Launches follow the ramp (1 s over 5 instances).
    assert np.allclose(t.column("launch"), [0.0, 0.2, 0.4, 0.6, 0.8])


def test_exit_codes_decide_per_ready_when(fake_stack_session, tmp_path):
    exit0 = "true"
    both = run(scenario(exit0, size=2), stack=fake_stack_session)
    assert outcomes(both) == ["failed", "failed"]
    assert list(both.attempts.error_class) == ["NotRegistered"] * 2
    plain = run(scenario(exit0, size=2, exec_extra={"ready_when": "exit_zero"}), stack=fake_stack_session)
    assert outcomes(plain) == ["ready", "ready"]
    failing = run(scenario("exit 3", size=2, exec_extra={"ready_when": "exit_zero"}), stack=fake_stack_session)
    assert outcomes(failing) == ["failed", "failed"]
    assert list(failing.attempts.error_class) == ["exit:3"] * 2
    assert np.all(np.isnan(failing.attempts.column("ready_time")))


def test_failed_instances_are_replaced_with_backoff(fake_stack_session, tmp_path):
    replacement = {"enabled": True, "max_attempts": 3, "backoff": {"base": 0.3, "multiplier": 2}}
    result = run(scenario("exit 1", size=2, replacement=replacement), stack=fake_stack_session)
    t = result.attempts
    assert len(t) == 6
    assert sorted(zip(t.column("instance"), t.column("attempt"))) == [
        (i, a) for i in (0, 1) for a in (1, 2, 3)]
    assert set(t.outcome) == {"failed"}
    for i in (0, 1):
        rows = np.flatnonzero(t.column("instance") == i)
        launch, end = t.column("launch")[rows], t.column("end")[rows]
        # Attempt n+1 launches base * 2**(n-1) after attempt n ended.
        assert launch[1] - end[0] == pytest.approx(0.3, abs=0.05)
        assert launch[2] - end[1] == pytest.approx(0.6, abs=0.05)


def test_hung_scripts_are_killed_with_their_whole_group(fake_stack_session, tmp_path):
    pids = tmp_path / "pids"
    result = run(scenario(SLEEP_FOREVER, size=2, exec_extra={
        "boot_timeout": 1.0, "kill_grace": 0.5, "env": {"PIDS": str(pids)}}), stack=fake_stack_session)
    assert outcomes(result) == ["hung", "hung"]
    assert list(result.attempts.error_class) == ["BootTimeoutExceeded"] * 2
    ends = result.attempts.column("end") - result.attempts.column("start")
    assert np.all(ends >= 1.0) and np.all(ends < 10.0)
    recorded = read_pids(pids)
    assert len(recorded) == 4  # each shell and its background sleep
    assert not [p for p in recorded if pid_alive(p)]


def test_busy_loop_cpu_is_measured_and_flagged(fake_stack_session, tmp_path):
    busy = script(tmp_path, "busy", "while True:\n    pass\n")
    result = run(scenario(busy, size=1, exec_extra={
        "boot_timeout": 2.0, "findings": {"busy_min_wall": 1.0, "busy_cpu_share": 0.2}}), stack=fake_stack_session)
    t = result.attempts
    assert outcomes(result) == ["hung"]
    assert t.column("cpu_seconds")[0] > 0.5  # two seconds of spinning, even on a loaded machine
    assert "busy_wait" in t.findings[0].split(";")


@pytest.mark.parametrize("isolation", ["env", "netns"])
def test_the_environment_holds_nothing_of_the_caller(fake_stack_session, tmp_path, monkeypatch, isolation):
    if isolation == "netns" and netns_unavailable() is not None:
        pytest.skip(f"needs root and network namespaces: {netns_unavailable()}")
    caller_secret = "caller-secret-DO-NOT-LEAK-1234567890"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", caller_secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACALLERCALLER0000")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("SOME_CALLER_VARIABLE", "x")
    out = tmp_path / "env"
    out.mkdir()
    result = run(scenario(script(tmp_path, "dump", DUMP_ENV), size=2, exec_extra={
        "ready_when": "exit_zero", "env": {"OUT": str(out)}, "isolation": isolation}), stack=fake_stack_session)
    assert outcomes(result) == ["ready", "ready"]
    dumps = [json.loads(p.read_text()) for p in sorted(out.iterdir())]
    assert len(dumps) == 2
    allowed_aws = {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_REGION",
                   "AWS_DEFAULT_REGION", "AWS_SDK_UA_APP_ID", "AWS_CONFIG_FILE",
                   "AWS_SHARED_CREDENTIALS_FILE"}
    for dump in dumps:
        env = dump["env"]
        aws = {k for k in env if k.startswith("AWS_") and not k.startswith("AWS_ENDPOINT_URL_")}
        assert aws <= allowed_aws, aws - allowed_aws
        assert "SOME_CALLER_VARIABLE" not in env
        assert caller_secret not in json.dumps(env)
        root = env["BOOTSTORM_INSTANCE_ROOT"]
        assert env["HOME"] == root
        assert dump["cwd"] == os.getcwd()  # relative commands resolve where bootstorm started
        assert env["TMPDIR"].startswith(root)
        assert env["AWS_CONFIG_FILE"].startswith(root) and env["AWS_SHARED_CREDENTIALS_FILE"].startswith(root)
        assert dump["sizes"] == {"AWS_CONFIG_FILE": 0, "AWS_SHARED_CREDENTIALS_FILE": 0}
        if isolation == "env":
            assert env["BOOTSTORM_INSTANCE_ID"] in env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
        else:  # its namespace's 169.254.169.254 is its own IMDS, as on EC2
            assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == "http://169.254.169.254/"
    # The run's temporary directory (the roots) is gone.
    assert not os.path.exists(dumps[0]["env"]["BOOTSTORM_INSTANCE_ROOT"])


def test_run_goes_through_the_report_and_slos(fake_stack_session, tmp_path):
    slos = ["bootstrap_success_rate >= 99%", "time_to_ready.p95 <= 30s", "attempts_per_instance.max <= 1"]
    result = run(scenario(script(tmp_path, "register", REGISTER), size=4, slos=slos),
                 stack=fake_stack_session)
    folder = tmp_path / "run"
    result.write(folder)
    summary = write_report(result, folder, plots=False)
    assert summary.slos_passed, [v for v in summary.verdicts if not v.passed]
    assert summary.metrics["bootstrap_success_rate"] == 1.0
    assert 0 < summary.metrics["time_to_ready.p95"] < 30
    assert json.loads((folder / "summary.json").read_text())["slos_passed"] is True
    failing = run(scenario("exit 1", size=2, slos=slos[:1]), stack=fake_stack_session)
    assert not write_report(failing, tmp_path / "run2", plots=False).slos_passed


def test_partition_shows_timeouts_in_the_dependency_series(fake_stack_session, tmp_path):
    # Launches at 0, 2.5, 5 and 7.5 s; the partition holds Secrets Manager from 0 to 4 s. The
    # first boot calls inside it (1 s read timeout, no retry); the last two call after it.
    faults = [{"at": 0, "for": 4.0, "target": "secretsmanager", "kind": "partition"}]
    result = run(scenario(script(tmp_path, "secret", FETCH_SECRET), size=4, over=10.0, faults=faults,
                          exec_extra={"ready_when": "exit_zero"}), stack=fake_stack_session)
    t = result.attempts
    sm = result.dependencies["secretsmanager"]
    assert [w.kind for w in result.faults] == ["partition"]
    assert result.faults[0].end == pytest.approx(4.0, abs=0.5)
    assert outcomes(result)[0] == "failed" and outcomes(result)[2:] == ["ready", "ready"]
    assert sm.counts["timed_out"].sum() >= 1
    assert sm.counts["timed_out"][: sm.slot(4.5) + 1].sum() == sm.counts["timed_out"].sum()
    assert sm.counts["served"].sum() >= 2
    assert not math.isnan(t.column("mark_secret_fetched")[-1])
    assert sm.latency_hist.sum() >= 2  # the gate timed the calls it answered
    assert any("estimated" in w for w in result.meta.warnings)


def test_a_scenario_without_command_or_with_an_impossible_fault_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="no command"):
        run(scenario("true").model_copy(update={"exec": scenario("true").exec.model_copy(
            update={"command": None})}))
    bad = scenario("true", faults=[{"at": 0, "target": "registry", "kind": "deny"}])
    with pytest.raises(InvalidInput, match="cannot do deny"):
        run(bad)
    from sim.scenario import load_scenario

    repo = Path(__file__).resolve().parents[2]
    with pytest.raises(InvalidInput, match="'artifacts' have no real fake"):
        run(load_scenario(repo / "scenarios" / "asset-download.yaml"))
