"""The shipped reference bootstraps under faults, through the exec engine: the naive script is
caught leaking, busy-waiting and hanging; the Python reference passes its SLO under the same
faults (issue #4's acceptance)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from sim.engines.exec import run
from sim.metrics import summarize

from tests.integration._exec_fixtures import scenario

BOOTSTRAPS = Path(__file__).resolve().parents[2] / "scenarios" / "bootstraps"
NAIVE = f"bash {BOOTSTRAPS / 'naive.sh'}"
REFERENCE = f"{sys.executable} {BOOTSTRAPS / 'reference.py'}"
# The bin folder of this Python first on PATH, so `aws` is the one installed with bootstorm.
ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"}


def findings_of(result) -> Counter:
    return Counter(name for cell in result.attempts.findings for name in cell.split(";") if name)


def test_naive_script_leaks_the_secret_and_reports_the_app_before_the_agent(fake_stack_session):
    result = run(scenario(NAIVE, size=3, exec_extra={"env": ENV, "boot_timeout": 60}),
                 stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 3
    found = findings_of(result)
    assert found["secret_exposure"] == 3
    assert found["ready_before_telemetry"] == 3
    # The report counts exposures and never shows the value.
    planted = fake_stack_session.planted_secrets()
    assert summarize(result).metrics["secret_exposure_events"] == 3
    assert not any(v in cell for v in planted.values() for cell in result.attempts.findings)


def test_naive_script_busy_waits_when_imds_resets_connections(fake_stack_session):
    faults = [{"at": 0, "target": "imds", "kind": "reset"}]
    # On this 2-core machine under a load of ~7 the niced loop gets ~26 % of a core, right at
    # the default threshold (25 %); a script that waits between tries uses a few %. The test
    # judges the loop against 15 %, so the machine's load does not decide it.
    result = run(scenario(NAIVE, size=2, faults=faults, horizon="60s",
                          exec_extra={"env": ENV, "boot_timeout": 8, "findings": {"busy_cpu_share": 0.15}}),
                 stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["hung"] * 2
    assert findings_of(result)["busy_wait"] == 2


def test_naive_script_hangs_in_a_partition_without_timeouts(fake_stack_session):
    faults = [{"at": 0, "target": "secretsmanager", "kind": "partition"}]
    result = run(scenario(NAIVE, size=2, faults=faults, horizon="60s",
                          exec_extra={"env": ENV, "boot_timeout": 10}), stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["hung"] * 2
    assert findings_of(result)["hang"] == 2


def test_reference_bootstrap_passes_its_slo_under_partition_throttling_and_expiry(
        fake_stack_session):
    faults = [
        {"at": 0, "for": "6s", "target": "secretsmanager", "kind": "partition"},
        {"at": "6s", "for": "10s", "target": "secretsmanager.GetSecretValue", "kind": "throttle",
         "quota": {"rate": 1, "burst": 1}},
        {"at": "4s", "target": "instances", "kind": "expire_credentials"},
    ]
    slos = ["bootstrap_success_rate >= 100%", "secret_exposure_events <= 0"]
    result = run(scenario(REFERENCE, size=4, over=2.0, faults=faults, slos=slos, horizon="90s",
                          exec_extra={"env": {**ENV, "BOOTSTORM_CALL_DEADLINE": "40"},
                                      "boot_timeout": 80}),
                 stack=fake_stack_session)
    summary = summarize(result)
    assert list(result.attempts.outcome) == ["ready"] * 4, list(result.attempts.error_class)
    assert summary.slos_passed, [(v.slo, v.measured) for v in summary.verdicts]
    found = findings_of(result)
    assert found["secret_exposure"] == 0 and found["hang"] == 0 and found["no_backoff"] == 0
    sm = result.dependencies["secretsmanager"].counts
    assert sm["throttled"].sum() + sm["timed_out"].sum() > 0  # the faults really hit it


def test_awscli_bootstrap_under_the_same_faults_leaks_nothing_and_never_hangs(fake_stack_session):
    faults = [
        {"at": 0, "for": "6s", "target": "secretsmanager", "kind": "partition"},
        {"at": "6s", "for": "10s", "target": "secretsmanager.GetSecretValue", "kind": "throttle",
         "quota": {"rate": 1, "burst": 1}},
        {"at": "4s", "target": "instances", "kind": "expire_credentials"},
    ]
    awscli = f"bash {BOOTSTRAPS / 'awscli.sh'}"
    result = run(scenario(awscli, size=4, over=2.0, faults=faults, horizon="90s",
                          exec_extra={"env": ENV, "boot_timeout": 80}),
                 stack=fake_stack_session)
    found = findings_of(result)
    # Whether each boot made it is the measurement; what it must never do is judged here.
    assert found["secret_exposure"] == 0 and found["hang"] == 0 and found["busy_wait"] == 0
    assert "hung" not in list(result.attempts.outcome)
    assert found["ready_before_telemetry"] == 0


def test_awscli_bootstrap_retrying_once_after_an_imds_blip_is_not_busy(fake_stack_session):
    # IMDS answers 503 for its first second; curl --retry waits 1 s and tries again. The AWS
    # CLI's start-up CPU (well over a quarter core for the whole attempt on this machine) is
    # not spent while failing, so it is no busy_wait; the second run judges idempotency.
    faults = [{"at": 0, "for": "1s", "target": "imds", "kind": "outage"}]
    awscli = f"bash {BOOTSTRAPS / 'awscli.sh'}"
    result = run(scenario(awscli, size=2, faults=faults, horizon="90s",
                          exec_extra={"env": ENV, "boot_timeout": 80, "idempotency_check": True}),
                 stack=fake_stack_session)
    t = result.attempts
    assert list(t.outcome) == ["ready"] * 2, list(t.error_class)
    assert t.column("retries").sum() >= 2  # each retried its IMDS token after the blip
    found = findings_of(result)
    assert found["busy_wait"] == 0 and found["not_idempotent"] == 0, list(t.findings)


def test_reference_bootstrap_is_idempotent_on_a_second_run(fake_stack_session):
    result = run(scenario(REFERENCE, size=2, horizon="60s",
                          exec_extra={"env": ENV, "boot_timeout": 50, "idempotency_check": True}),
                 stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 2
    assert findings_of(result)["not_idempotent"] == 0, list(result.attempts.findings)


def test_naive_calls_held_by_a_partition_are_counted_once(fake_stack_session):
    # The naive script's AWS CLI has no read timeout: its GetSecretValue waits out the 4 s
    # partition and reaches the gate when it lifts. That call is served, not also timed out.
    from sim.metrics import summarize

    faults = [{"at": 0, "for": "4s", "target": "secretsmanager", "kind": "partition"}]
    result = run(scenario(NAIVE, size=3, over=2.0, faults=faults, horizon="60s",
                          exec_extra={"env": ENV, "boot_timeout": 40}), stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 3, list(result.attempts.error_class)
    sm = summarize(result).dependency("secretsmanager")
    shares = sm["goodput"] + sm["timed_out_share"] + sm["failed_share"] + sm["throttled_share"]
    assert shares == 1.0, sm  # every call counted once
    assert (sm["goodput"], sm["timed_out_share"]) == (1.0, 0.0)
