"""The load engine for real: Locust master and workers (own processes) against the shared stack.

Small and bounded: at most 20 virtual instances, a few seconds of scenario, loopback only.
Every test starts real ``python -m locust`` processes; none imports locust here.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sim.engines.load import run
from sim.errors import InvalidInput
from sim.metrics import summarize
from sim.scenario.loader import parse_scenario

pytestmark = pytest.mark.integration

BASE = """
name: load-test
run: {{seed: 3, horizon: {horizon}}}
fleet:
  size: {size}
  arrival: {{kind: ramp, over: {over}}}
  os_boot: {{kind: constant, value: 0.1}}
dependencies:
  imds: {{operations: {{PutToken: {{}}, GetCredentials: {{}}}}}}
  secretsmanager: {{operations: {{GetSecretValue: {{}}}}}}
  ssm: {{operations: {{GetParameter: {{{quota}}}}}}}
  registry: {{operations: {{Register: {{}}}}}}
bootstrap:
  steps:
    - {{name: token, call: imds.PutToken, provides: imds_token, timeout: 10s,
       retry: {{kind: fixed, delay: 0.2s, max_attempts: 3}}}}
    - {{name: creds, call: imds.GetCredentials, after: [token], provides: credentials, timeout: 10s,
       retry: {{kind: fixed, delay: 0.2s, max_attempts: 3}}}}
    - {{name: secret, call: secretsmanager.GetSecretValue, after: [creds], timeout: {secret_timeout},
       retry: {secret_retry}, mark: secret_fetched}}
    - {{name: config, call: ssm.GetParameter, after: [creds], timeout: 10s,
       retry: {{kind: full_jitter, base: 0.2s, cap: 1s, max_attempts: 12}}}}
    - {{name: app, work: {{kind: constant, value: 0.2}}, after: [secret, config], mark: app_started}}
    - {{name: register, call: registry.Register, after: [app], timeout: 10s,
       retry: {{kind: fixed, delay: 0.2s, max_attempts: 3}}, mark: ready}}
faults: {faults}
load: {{workers: {workers}, time_scale: {time_scale}}}
"""


# Timeouts are generous: IMDS's first GetCredentials assumes the role on moto, which took
# 2.5 s at p99 on a loaded 2-core machine; only the partition test wants a short one.
def scenario(size=20, over="2s", horizon="60s", quota="", faults="[]", workers=1,
             secret_timeout="10s", secret_retry="{kind: aws_standard}", time_scale=1.0):
    text = BASE.format(size=size, over=over, horizon=horizon, quota=quota, faults=faults,
                       workers=workers, secret_timeout=secret_timeout, secret_retry=secret_retry,
                       time_scale=time_scale)
    return parse_scenario(text, "load-test.yaml")


def test_twenty_virtual_instances_boot_over_real_http(fake_stack_session):
    stack = fake_stack_session
    result = run(scenario(workers=2), stack=stack)
    t = result.attempts
    assert result.meta.engine == "load" and not result.meta.partial
    assert list(t.outcome) == ["ready"] * 20
    assert sorted(t.column("instance")) == list(range(20))  # both workers' shares, once each
    ready = t.column("ready_time")
    assert np.all(ready > t.column("start")) and np.all(ready <= result.meta.sim_end)
    assert np.all(t.column("mark_secret_fetched") < ready)
    # Launches follow the ramp (2 s over 20 instances).
    assert np.allclose(np.sort(t.column("launch")), np.arange(20) * 0.1)
    deps = result.dependencies
    assert deps["imds"].counts["served"].sum() == 40  # a token and credentials each
    for name in ("secretsmanager", "ssm", "registry"):
        assert deps[name].counts["needed"].sum() == 20, name
        assert deps[name].counts["served"].sum() == 20, name
    # The gate saw SigV4-signed calls with keys IMDS issued, attributed to their instances.
    gate = [e for e in stack.request_log(0) if e["service"] == "secretsmanager"]
    assert len(gate) == 20 and all(e["status"] == 200 and e["instance_id"] for e in gate)
    summary = summarize(result)
    assert summary.metrics["bootstrap_success_rate"] == 1.0
    # Locust's own report goes beside the Run.
    assert "locust/locust_stats.csv" in result.attachments
    assert b"secretsmanager.GetSecretValue" in result.attachments["locust/locust_stats.csv"]


def test_a_partition_shows_as_timeouts_and_retries(fake_stack_session):
    # Long enough that every instance reaches its secret step inside it, even when IMDS's
    # AssumeRole on moto is slow on a loaded machine.
    faults = "[{at: 0s, for: 10s, target: secretsmanager, kind: partition}]"
    retry = "{kind: fixed, delay: 0.5s, max_attempts: 40}"
    result = run(scenario(size=8, faults=faults, secret_timeout="1s", secret_retry=retry),
                 stack=fake_stack_session)
    t = result.attempts
    sm = result.dependencies["secretsmanager"].counts
    assert sm["timed_out"].sum() >= 8  # every instance's attempt hung until its own timeout
    assert sm["served"].sum() == sm["needed"].sum() == 8
    # Each attempt ended one way; those held when the partition lifted were reset (failed).
    assert sm["offered"].sum() == sm["timed_out"].sum() + sm["failed"].sum() + 8
    secret = t.steps.index("secret")
    assert np.all(t.step_retries()[:, secret] >= 1)
    assert list(t.outcome) == ["ready"] * 8  # the partition lifted before the policy gave up
    (window,) = result.faults
    assert (window.kind, window.target) == ("partition", "secretsmanager")
    assert np.all(t.column("mark_secret_fetched") >= window.end - 0.05)


def test_a_quota_on_the_gate_throttles_and_is_counted(fake_stack_session):
    result = run(scenario(size=20, over="0.5s", quota="quota: {rate: 1, burst: 1}", time_scale=0.5),
                 stack=fake_stack_session)
    # Per scenario second, as the exec engine sets it (sim.engines.live.stack): 2 per wall second.
    [rule] = [r for r in fake_stack_session.gate.rules() if r["kind"] == "quota"]
    assert (rule["service"], rule["operation"], rule["rate"], rule["burst"]) == ("ssm", "GetParameter", 2.0, 1.0)
    ssm = result.dependencies["ssm"].counts
    assert ssm["throttled"].sum() > 0
    assert ssm["served"].sum() + ssm["failed"].sum() + ssm["throttled"].sum() == ssm["offered"].sum()
    summary = summarize(result)
    assert summary.dependency("ssm")["retry_amplification"] > 1.0
    # Its times are wall seconds; the metrics go back to the scenario's clock, as exec's do.
    assert result.meta.time_scale == 0.5
    peak_wall = ssm["offered"].max() / result.dependencies["ssm"].interval
    assert summary.dependency("ssm")["peak_offered_rps"] == pytest.approx(peak_wall * 0.5)
    config = result.attempts.steps.index("config")
    assert result.attempts.step_retries()[:, config].sum() > 0


def test_calls_the_fakes_cannot_answer_are_refused_before_anything_starts():
    bad = scenario().model_dump(mode="json", by_alias=True)
    bad["dependencies"]["registry"]["operations"] = {"Join": {}}
    bad["bootstrap"]["steps"][-1]["call"] = "registry.Join"
    from sim.scenario.model import Scenario

    with pytest.raises(InvalidInput, match="registry.Join"):
        run(Scenario.model_validate(bad))


def test_sim_never_imports_locust():
    # Locust monkey-patches the standard library on import; only its own processes may load it.
    import sim.cli  # noqa: F401
    import sim.engines.load  # noqa: F401
    import sim.runner  # noqa: F401

    assert "locust" not in sys.modules and "gevent" not in sys.modules


def test_a_worker_started_elsewhere_joins_the_master_with_locusts_distributed_mode(fake_stack_session, tmp_path):
    # The "other machine" is another process here: `bootstorm run --worker --master-host`.
    import subprocess
    import threading

    from fakes._proc import free_port

    port = free_port()
    path = tmp_path / "s.yaml"
    path.write_text("name: unused-by-the-worker\n")  # the job comes from the master
    results = {}
    master = threading.Thread(target=lambda: results.setdefault(
        "run", run(scenario(size=10), stack=fake_stack_session, workers=1, remote_workers=1, master_port=port)))
    master.start()
    worker = subprocess.Popen([sys.executable, "-m", "sim.cli", "run", str(path), "--engine", "load", "--worker",
                               "--master-host", "127.0.0.1", "--master-port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        master.join(timeout=300)
    finally:
        if worker.poll() is None:
            worker.terminate()
        worker.wait(timeout=30)
    result = results["run"]
    assert result.load_status["workers_flushed"] == 2 and result.load_status["workers"] == 2
    assert list(result.attempts.outcome) == ["ready"] * 10


def test_an_interrupted_run_keeps_what_happened_and_marks_the_rest_unfinished(fake_stack_session):
    # What Ctrl-C does (the signal handler only sets this flag), from a thread.
    import json
    import threading
    import time

    from sim.engines.load import LoadEngine

    engine = LoadEngine(scenario(size=10, over="30s", horizon="120s"), stack=fake_stack_session)
    results = {}
    thread = threading.Thread(target=lambda: results.setdefault("run", engine.run()))
    thread.start()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until the run's clock has run a few launches
        try:
            status = json.loads((engine.tmp / "status.json").read_text())
        except (OSError, ValueError, AttributeError):
            status = {}
        if "t0" in status and time.time() - status["t0"] > 8:
            break
        time.sleep(0.2)
    engine.interrupted = True
    thread.join(timeout=120)
    result = results["run"]
    outcomes = list(result.attempts.outcome)
    assert result.meta.partial and len(outcomes) == 10
    assert "ready" in outcomes and "unfinished" in outcomes  # the ramp was cut about a third in
    assert result.meta.sim_end < 30
