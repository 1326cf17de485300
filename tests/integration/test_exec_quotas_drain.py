"""The exec engine's quotas and drain accounting, with real scripts against the real fakes.

A scenario's ``quota: {rate, burst}`` must throttle a user's real script exactly as the
scenario says, per scenario second (``exec.time_scale``), with the error AWS sends for the
protocol, which botocore (boto3, the AWS CLI) then retries as a throttle: its standard
retry mode retries a 400 only for the codes in ``botocore/retries/standard.py``
``ThrottledRetryableChecker._THROTTLED_ERROR_CODES`` (``Throttling``, ``ThrottlingException``,
...). And an agent's steady heartbeats after a fault
must not keep telemetry "not drained".
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from sim.engines.exec import run
from sim.metrics import summarize

from tests.integration._exec_fixtures import GET_PARAMETERS, HEARTBEAT, scenario, script

# botocore gives IMDS 1 s and one attempt by default: too little for several interpreters
# starting at once on a loaded 2-core machine (the credentials are not what is tested here).
PATIENT_IMDS = {"AWS_METADATA_SERVICE_TIMEOUT": "5", "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "3"}
SSM_QUOTA = {"ssm": {"concurrency": 100, "service_time": "5ms",
                     "operations": {"GetParameter": {"quota": {"rate": 1, "burst": 1}}}}}


def test_a_scenario_quota_throttles_a_real_script_per_scenario_second(fake_stack_session, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # 1 GetParameter per scenario second, burst 1; at time_scale 0.5 that is 2 per wall second.
    s = scenario(script(tmp_path, "params", GET_PARAMETERS), size=4, horizon="240s",
                 dependencies_extra=SSM_QUOTA,
                 exec_extra={"time_scale": 0.5, "boot_timeout": 90,
                             "env": {"OUT": str(out), "CALLS": "3", **PATIENT_IMDS}})
    result = run(s, stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 4, list(result.attempts.error_class)

    # The gate holds the scenario's quota on the wall clock: rate / time_scale, the burst as given.
    [rule] = [r for r in fake_stack_session.gate.rules() if r["kind"] == "quota"]
    assert (rule["service"], rule["operation"], rule["rate"], rule["burst"]) == ("ssm", "GetParameter", 2.0, 1.0)

    # Each script asks three times back to back (milliseconds apart, well under the 0.5 s a
    # token takes): throttles are certain, and appear in the Run's dependency series.
    ssm = result.dependencies["ssm"].counts
    throttled = int(ssm["throttled"].sum())
    assert throttled > 0 and ssm["served"].sum() == 12 and ssm["failed"].sum() == 0
    assert ssm["offered"].sum() == 12 + throttled
    assert ssm["needed"].sum() == 12  # a call after a throttle is a retry, not demand
    # botocore retried every throttle (RetryAttempts per call, as the scripts saw them) ...
    seen = [n for path in out.iterdir() for n in json.loads(path.read_text())]
    assert len(seen) == 12 and sum(seen) == throttled
    # ... and the attempts count those retries, on the operation's step.
    t = result.attempts
    assert int(t.column("retries").sum()) == throttled
    step = t.steps.index("ssm.GetParameter")
    assert int(t.step_retries()[:, step].sum()) == throttled

    # Served no faster than the wall-clock bucket allows: burst + rate x span (+ stamp jitter).
    log = fake_stack_session.request_log(0.0)
    served = sorted(e["time"] for e in log if e["service"] == "ssm" and e["status"] == 200)
    assert len(served) == 12
    assert len(served) <= 1 + 2.0 * (served[-1] - served[0] + 0.05)
    summary = summarize(result)
    assert summary.metrics["dependencies.ssm.throttled_share"] == pytest.approx(throttled / (12 + throttled))


def test_steady_heartbeats_after_a_fault_do_not_keep_telemetry_from_draining(fake_stack_session, tmp_path):
    deps = {"telemetry": {"concurrency": 64, "service_time": "1ms", "operations": {"Heartbeat": {}}}}
    outage = {"at": 0, "for": 8, "target": "secretsmanager", "kind": "outage"}  # scripts start inside it
    s = scenario(script(tmp_path, "heartbeat", HEARTBEAT), size=3, faults=[outage], horizon="120s",
                 dependencies_extra=deps, exec_extra={"boot_timeout": 90, "env": {"AFTER": "3", **PATIENT_IMDS}})
    result = run(s, stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 3, list(result.attempts.error_class)
    tele = result.dependencies["telemetry"].counts
    assert tele["offered"].sum() >= 3 * 10  # 3 s and more of heartbeats every 0.2 s each
    assert tele["needed"].sum() == tele["offered"].sum()  # every heartbeat is a first try
    m = summarize(result).metrics
    # The storm: calls failed during the outage and were retried; then it drained.
    assert m["dependencies.secretsmanager.failed_share"] > 0
    assert m["dependencies.secretsmanager.retry_amplification"] > 1
    assert 0 <= m["dependencies.secretsmanager.time_to_drain"] < math.inf
    # Telemetry kept its steady first-try load after the fault: clean, not "never (in run)".
    assert m["dependencies.telemetry.time_to_drain"] == 0.0
    assert m["dependencies.telemetry.retry_amplification"] == 1.0


def test_the_aws_cli_reads_the_gates_throttle_as_a_throttle_and_retries_it(fake_stack_session, tmp_path):
    # Two instances, one `aws ssm get-parameter` each, against a bucket of one token refilled
    # every 10 wall seconds (0.05 per scenario second at time_scale 0.5): one call is
    # throttled, and the AWS CLI (botocore's standard mode underneath) must retry it until the
    # next token, exiting 0. A 400 it did not read as a throttle would not be retried.
    quota = {"ssm": {"concurrency": 100, "service_time": "5ms",
                     "operations": {"GetParameter": {"quota": {"rate": 0.05, "burst": 1}}}}}
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "10", **PATIENT_IMDS}
    s = scenario("aws ssm get-parameter --name /app/config --query Parameter.Value --output text",
                 size=2, over=0.2, horizon="240s", dependencies_extra=quota,
                 exec_extra={"time_scale": 0.5, "boot_timeout": 90, "ready_when": "exit_zero", "env": env})
    result = run(s, stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 2, list(result.attempts.error_class)
    ssm = result.dependencies["ssm"].counts
    throttled = int(ssm["throttled"].sum())
    assert throttled >= 1 and ssm["served"].sum() == 2 and ssm["failed"].sum() == 0
    assert int(result.attempts.column("retries").sum()) == throttled
    answers = {(e["status"], e["error_code"]) for e in fake_stack_session.request_log(0.0) if e["service"] == "ssm"}
    assert answers == {(200, None), (400, "ThrottlingException")}  # SSM speaks JSON: AWS's code
