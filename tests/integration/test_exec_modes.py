"""Exec engine settings: ready_when registered, idempotency check, grace, time scale, parallelism."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engines.exec import run
from tests.integration._exec_fixtures import REGISTER, pid_alive, read_pids, scenario, script


def test_registered_instances_are_ready_while_their_agent_keeps_running(fake_stack_session, tmp_path):
    pids = tmp_path / "pids"
    # The pids are written before the registration: the run may end right after it.
    command = f'echo $$ >> "$PIDS"; sleep 1000 & echo $! >> "$PIDS"; {script(tmp_path, "register", REGISTER)} && wait'
    result = run(scenario(command, size=3, exec_extra={
        "ready_when": "registered", "env": {"PIDS": str(pids)}, "kill_grace": 0.5}), stack=fake_stack_session)
    t = result.attempts
    assert list(t.outcome) == ["ready"] * 3
    assert result.meta.sim_end < 20  # the run ended once all were ready, not at the horizon
    assert np.all(t.column("ready_time") <= result.meta.sim_end)
    # The "agents" ran until the run ended, then went with their groups.
    assert len(read_pids(pids)) == 6
    assert not [p for p in read_pids(pids) if pid_alive(p)]


IDEMPOTENT = REGISTER
NOT_IDEMPOTENT = REGISTER + '''
with open(os.path.join(os.environ["BOOTSTORM_INSTANCE_ROOT"], "boots.log"), "a") as fh:
    fh.write("booted\\n")
'''


SAME_MARKER = REGISTER + '''
with open(os.path.join(os.environ["BOOTSTORM_INSTANCE_ROOT"], "done"), "w") as fh:
    fh.write("done\\n")  # rewritten on every run, with the same content: idempotent
'''
STAMPED_MARKER = REGISTER + '''
import time
with open(os.path.join(os.environ["BOOTSTORM_INSTANCE_ROOT"], "done"), "w") as fh:
    fh.write(repr(time.time()))  # a different content on the second run: a side effect
'''


@pytest.mark.parametrize("text, finding", [(IDEMPOTENT, ""), (NOT_IDEMPOTENT, "not_idempotent"),
                                           (SAME_MARKER, ""), (STAMPED_MARKER, "not_idempotent")])
def test_idempotency_check_runs_the_script_again(fake_stack_session, tmp_path, text, finding):
    result = run(scenario(script(tmp_path, "boot", text), size=2, exec_extra={"idempotency_check": True}),
                 stack=fake_stack_session)
    t = result.attempts
    assert list(t.outcome) == ["ready", "ready"]
    assert list(t.findings) == [finding, finding]
    # The second run's registration is not counted as a call of the boot itself.
    assert list(t.column("calls")) == [1, 1]
    assert result.dependencies["registry"].counts["offered"].sum() == 4


def test_health_check_grace_kills_slow_boots(fake_stack_session, tmp_path):
    result = run(scenario("sleep 1000", size=2, fleet_extra={"health_check_grace": "10s"},
                          exec_extra={"time_scale": 0.1, "kill_grace": 0.5}), stack=fake_stack_session)
    t = result.attempts
    assert list(t.outcome) == ["hung", "hung"]
    assert list(t.error_class) == ["HealthCheckGraceExceeded"] * 2
    assert np.all((t.column("end") - t.column("launch")) == pytest.approx(1.0, abs=0.5))


def test_health_check_grace_runs_from_the_process_start_not_from_the_queue(fake_stack_session, tmp_path):
    # max_parallel 1: the third instance waits ~1.2 s for a slot, longer than the 1 s grace
    # (10 s at time_scale 0.1); each boot takes 0.6 s, well within it.
    result = run(scenario("sleep 0.6", size=3, over=0.001, fleet_extra={"health_check_grace": "10s"},
                          exec_extra={"time_scale": 0.1, "max_parallel": 1, "ready_when": "exit_zero"}),
                 stack=fake_stack_session)
    t = result.attempts
    assert list(t.outcome) == ["ready"] * 3
    assert t.column("start")[2] - t.column("launch")[2] > 1.0  # it did wait longer than the grace


def test_time_scale_shrinks_arrivals_faults_and_horizon(fake_stack_session, tmp_path):
    faults = [{"at": "10s", "for": "10s", "target": "registry", "kind": "outage"}]
    result = run(scenario("sleep 0.1", size=5, over=20.0, faults=faults, horizon="40s", exec_extra={
        "time_scale": 0.1, "ready_when": "exit_zero"}), stack=fake_stack_session)
    assert result.meta.horizon == pytest.approx(4.0)
    assert np.allclose(result.attempts.column("launch"), [0.0, 0.4, 0.8, 1.2, 1.6])
    window = result.faults[0]
    assert window.start == pytest.approx(1.0, abs=0.5) and window.end == pytest.approx(2.0, abs=0.5)


def test_max_parallel_queues_launches(fake_stack_session, tmp_path):
    result = run(scenario("sleep 0.3", size=3, over=0.001, exec_extra={
        "max_parallel": 1, "ready_when": "exit_zero"}), stack=fake_stack_session)
    t = result.attempts
    start, end = t.column("start"), t.column("end")
    assert list(t.outcome) == ["ready"] * 3
    assert start[1] >= end[0] - 0.01 and start[2] >= end[1] - 0.01


def test_exec_section_is_validated_with_the_scenario(tmp_path):
    from sim.errors import InvalidInput

    with pytest.raises(InvalidInput, match="bogus"):
        scenario("true", exec_extra={"bogus": 1})
    with pytest.raises(InvalidInput, match="time_scale"):
        scenario("true", exec_extra={"time_scale": 0})
    with pytest.raises(InvalidInput, match="ready_when"):
        scenario("true", exec_extra={"ready_when": "soon"})
    plain = scenario("true", size=500)
    assert plain.exec.ready_when == "both" and plain.exec.time_scale == 1.0
    with pytest.raises(InvalidInput, match="no_such_threshold"):
        run(scenario("true", exec_extra={"findings": {"no_such_threshold": 1}}))
    from sim.engines.exec.plan import plan_exec

    assert plan_exec(plain).size == 50  # min(fleet.size, 50) by default
    assert plan_exec(scenario("true", size=3)).size == 3


def test_fewer_instances_keep_the_arrival_shape():
    import random

    from sim.engines.exec.plan import plan_exec

    steps = {"kind": "steps", "steps": [{"at": 0, "count": 500}, {"at": 10, "count": 300},
                                        {"at": 20, "count": 200}]}
    s = scenario("true", size=1000, fleet_extra={"arrival": steps}, exec_extra={"time_scale": 0.5})
    times = plan_exec(s).launches(s, random.Random(1))
    assert (len(times), times.count(0.0), times.count(5.0), times.count(10.0)) == (50, 25, 15, 10)
    ramp = scenario("true", size=1000, over=100.0)
    assert plan_exec(ramp).launches(ramp, random.Random(1))[:3] == [0.0, 2.0, 4.0]
