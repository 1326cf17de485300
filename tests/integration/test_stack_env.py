"""The stack's wiring: a bootstrap with only its environment reaches every fake through proxies."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest

from fakes.stack import ENDPOINT_VARIABLES, check_scenario
from sim.errors import InvalidInput
from sim.scenario import parse_scenario

FORBIDDEN = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def test_env_points_at_proxies_and_carries_no_caller_credentials(fake_stack, monkeypatch):
    for name in FORBIDDEN:
        monkeypatch.setenv(name, "caller-value")
    env = fake_stack.add_instance("i-00000000000000e70")
    assert not set(FORBIDDEN) & set(env)
    assert "caller-value" not in env.values()
    proxies = fake_stack.proxies.ports
    assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == f"http://127.0.0.1:{proxies['imds']}/i-00000000000000e70/"
    assert env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == f"http://127.0.0.1:{proxies['secretsmanager']}"
    assert env["AWS_ENDPOINT_URL_STS"] == f"http://127.0.0.1:{proxies['sts']}"
    assert set(ENDPOINT_VARIABLES.values()) <= set(env)
    # one proxy per path, so faulting one leaves the others up
    assert len({proxies[s] for s in ("imds", "secretsmanager", "ssm", "sts", "iam", "aws", "registry")}) == 7
    assert env["AWS_SDK_UA_APP_ID"] == env["BOOTSTORM_INSTANCE_ID"] == "i-00000000000000e70"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    for key in ("BOOTSTORM_REGISTRY_URL", "BOOTSTORM_TELEMETRY_URL"):
        with urllib.request.urlopen(env[key] + "/health", timeout=10) as resp:
            assert resp.status == 200


def test_bootstrap_gets_role_credentials_from_imds_and_reads_planted_secret(fake_stack, bootstrap):
    planted = fake_stack.planted_secrets()
    assert planted["app/api-key"] == "not-a-random-value"
    assert planted["app/db-password"].startswith("bs-") and len(planted["app/db-password"]) > 20

    boot = bootstrap("i-00000000000000ead")
    got = boot.call("secret", name="app/db-password")
    assert got["ok"], got
    assert got["sha256"] == hashlib.sha256(planted["app/db-password"].encode()).hexdigest()
    identity = boot.call("identity")
    assert identity["ok"], identity
    assert identity["arn"].endswith(":assumed-role/bootstrap-role/i-00000000000000ead")
    assert boot.call("parameter", name="/app/config")["value"] == '{"feature": true}'

    log = fake_stack.request_log()
    seen = {(e["service"], e["operation"]) for e in log if e["instance_id"] == "i-00000000000000ead"}
    assert {("imds", "PutToken"), ("imds", "GetCredentials"), ("secretsmanager", "GetSecretValue"),
            ("sts", "GetCallerIdentity"), ("ssm", "GetParameter")} <= seen
    assert all(e["status"] == 200 for e in log if e["instance_id"] == "i-00000000000000ead")
    assert [e["time"] for e in log] == sorted(e["time"] for e in log)
    # the key IMDS issued is registered with the gate, with its instance and expiration
    keys = [c for c in fake_stack.gate.credentials() if c["instance_id"] == "i-00000000000000ead"]
    assert len(keys) == 1 and keys[0]["expiration"] is not None
    assert fake_stack.request_log(since=log[-1]["time"] + 1) == []


def test_capacity_names_every_fake(fake_stack):
    capacity = fake_stack.capacity()
    assert {"gate", "moto", "imds", "sinks", "toxiproxy"} <= set(capacity)
    assert capacity["gate"]["rps"] > capacity["moto"]["rps"] > 0
    assert capacity["imds"]["rps"] > 0


def _scenario(faults: str, dependencies: str = "") -> object:
    text = f"""
name: t
fleet: {{size: 1}}
dependencies:
  imds: {{operations: {{PutToken: {{}}}}}}
  secretsmanager: {{operations: {{GetSecretValue: {{}}}}}}
  config: {{operations: {{Get: {{}}}}}}
  registry: {{operations: {{Register: {{}}}}}}
{dependencies}
bootstrap:
  steps:
    - {{name: s, call: secretsmanager.GetSecretValue, needs: none, mark: ready}}
faults:
{faults}
"""
    return parse_scenario(text)


def test_check_scenario_refuses_faults_without_a_fake_and_warns():
    with pytest.raises(InvalidInput) as err:
        check_scenario(_scenario("  - {at: 1s, target: config, kind: latency, latency: 1s}\n"
                                 "  - {at: 1s, target: registry, kind: error_rate, rate: 0.5}"))
    message = str(err.value)
    assert "faults.0" in message and "dependency 'config' has no real fake" in message
    assert "faults.1" in message and "sinks fake cannot do error_rate" in message
    warnings = check_scenario(_scenario("  - {at: 1s, target: secretsmanager.GetSecretValue, kind: partition}"))
    assert any("hits all of secretsmanager" in w for w in warnings)
    assert any("'config' has no real fake" in w for w in warnings)


def test_apply_fault_rejects_bad_input_without_touching_the_fakes(fake_stack):
    with pytest.raises(InvalidInput, match="expected one of"):
        fake_stack.apply_fault("meltdown", "secretsmanager")
    with pytest.raises(InvalidInput, match="unknown parameters"):
        fake_stack.apply_fault("outage", "secretsmanager", rate=0.5)
    with pytest.raises(InvalidInput, match="needs|must be dependency.Operation"):
        fake_stack.apply_fault("throttle", "secretsmanager", rate=1)
    assert fake_stack.gate.rules() == [] and fake_stack.faults == {}


def test_enforced_iam_allows_only_the_role_actions(bootstrap):
    from fakes.stack import Stack

    config = {"enforce_iam": True, "secrets": {"app/token": None}, "parameters": {"/app/x": "1"},
              "role": {"name": "narrow-role", "actions": ["secretsmanager:GetSecretValue"]}}
    with Stack(config) as stack:
        boot = bootstrap("i-000000000000000a0", stack=stack)
        got = boot.call("secret", name="app/token")
        assert got["ok"], got
        assert got["sha256"] == hashlib.sha256(stack.planted_secrets()["app/token"].encode()).hexdigest()
        denied = boot.call("parameter", name="/app/x")
        assert denied["error_code"] == "AccessDeniedException", denied
