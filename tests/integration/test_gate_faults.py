"""Quotas and injected failures answer what AWS answers, and boto3's retry modes react as to AWS."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from _gate_fixtures import PARAMETER, SECRET, boto_client, gate, gate_server, moto_server, seeded  # noqa: F401

pytestmark = pytest.mark.integration


def _attempts(gate, since: int, operation: str) -> list[dict]:
    return [e for e in gate.entries(since=since) if e["operation"] == operation]


def test_json_throttling_is_throttling_exception_in_aws_wire_format(seeded, boto_client, gate):
    gate.set_quota("secretsmanager", rate=0, burst=0, operation="GetSecretValue")
    with pytest.raises(ClientError) as err:
        boto_client("secretsmanager").get_secret_value(SecretId=SECRET[0])
    response = err.value.response
    assert response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ThrottlingException"
    # Other operations of the service are under no quota.
    assert boto_client("secretsmanager").list_secrets()["SecretList"]


def test_query_throttling_is_throttling_sender_error(seeded, boto_client, gate):
    gate.set_quota("sts", rate=0, burst=0)
    with pytest.raises(ClientError) as err:
        boto_client("sts").get_caller_identity()
    assert err.value.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["ResponseMetadata"]["RequestId"]


def test_quota_lets_burst_through_then_throttles(seeded, boto_client, gate):
    # A refill of one token per 1000 s cannot add a token during the test.
    gate.set_quota("ssm", rate=0.001, burst=3, operation="GetParameter")
    ssm = boto_client("ssm")
    outcomes = []
    for _ in range(5):
        try:
            ssm.get_parameter(Name=PARAMETER[0])
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    assert outcomes == ["ok", "ok", "ok", "ThrottlingException", "ThrottlingException"]
    (rule,) = gate.rules()
    assert rule["hits"] == 2
    totals = {k: sum(row[k] for row in gate.series(bucket_s=3600, service="ssm")) for k in ("offered", "ok", "throttled", "failed")}
    assert totals == {"offered": 5, "ok": 3, "throttled": 2, "failed": 0}


@pytest.mark.parametrize("service, operation, code", [("secretsmanager", "GetSecretValue", "ThrottlingException"), ("sts", "GetCallerIdentity", "Throttling")])
def test_standard_retry_mode_retries_throttling_up_to_max_attempts(seeded, boto_client, gate, service, operation, code):
    gate.set_quota(service, rate=0, burst=0, operation=operation)
    start = gate.log()["next"]
    client = boto_client(service, retries={"mode": "standard", "total_max_attempts": 3})
    call = (lambda: client.get_secret_value(SecretId=SECRET[0])) if service == "secretsmanager" else client.get_caller_identity
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    attempts = _attempts(gate, start, operation)
    assert [(e["status"], e["error_code"], e["by_gate"]) for e in attempts] == [(400, code, True)] * 3


def test_adaptive_retry_mode_retries_throttling_and_its_rate_limiter_engages(seeded, boto_client, gate):
    rule = gate.set_quota("ssm", rate=0, burst=0, operation="GetParameter")
    start = gate.log()["next"]
    ssm = boto_client("ssm", retries={"mode": "adaptive", "total_max_attempts": 3})
    with pytest.raises(ClientError) as err:
        ssm.get_parameter(Name=PARAMETER[0])
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(_attempts(gate, start, "GetParameter")) == 3
    # The throttles switched on the client-side limiter at a low rate (botocore's floor is
    # 0.5/s, one token of capacity): later calls wait client-side although the quota is gone.
    gate.remove_rule(rule)
    began = time.monotonic()
    for _ in range(3):
        ssm.get_parameter(Name=PARAMETER[0])
    paced = time.monotonic() - began
    assert paced >= 1.0
    # The same calls from a client without throttling history are not paced.
    fresh = boto_client("ssm", retries={"mode": "adaptive", "total_max_attempts": 3})
    began = time.monotonic()
    for _ in range(3):
        fresh.get_parameter(Name=PARAMETER[0])
    assert time.monotonic() - began < paced


@pytest.mark.parametrize("status, code", [(500, "InternalFailure"), (503, "ServiceUnavailable")])
def test_first_n_failures_are_retried_by_standard_mode_then_succeed(seeded, boto_client, gate, status, code):
    gate.fail_first("secretsmanager", count=2, status=status, operation="GetSecretValue")
    start = gate.log()["next"]
    client = boto_client("secretsmanager", retries={"mode": "standard", "total_max_attempts": 3})
    response = client.get_secret_value(SecretId=SECRET[0])
    assert response["SecretString"] == SECRET[1]
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert [(e["status"], e["error_code"]) for e in _attempts(gate, start, "GetSecretValue")] == [
        (status, code),
        (status, code),
        (200, None),
    ]


def test_query_internal_error_format(seeded, boto_client, gate):
    gate.fail_first("sts", count=1, status=500)
    with pytest.raises(ClientError) as err:
        boto_client("sts").get_caller_identity()
    assert err.value.response["Error"]["Code"] == "InternalError"
    assert err.value.response["Error"]["Type"] == "Receiver"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_error_rate_failures_are_retried_and_calls_succeed(seeded, boto_client, gate):
    gate.set_error_rate("ssm", probability=0.3, status=503)
    start = gate.log()["next"]
    ssm = boto_client("ssm", retries={"mode": "standard", "total_max_attempts": 10})
    for _ in range(12):
        assert ssm.get_parameter(Name=PARAMETER[0])["Parameter"]["Value"] == PARAMETER[1]
    statuses = [e["status"] for e in _attempts(gate, start, "GetParameter")]
    assert statuses.count(200) == 12
    assert statuses.count(503) > 0  # the gate's draws are seeded: p=0.3 over 12+ calls fails some


def test_error_rate_of_one_fails_every_attempt(seeded, boto_client, gate):
    gate.set_error_rate("ssm", probability=1.0, status=500)
    start = gate.log()["next"]
    with pytest.raises(ClientError) as err:
        boto_client("ssm", retries={"mode": "standard", "total_max_attempts": 2}).get_parameter(Name=PARAMETER[0])
    assert err.value.response["Error"]["Code"] == "InternalFailure"
    assert len(_attempts(gate, start, "GetParameter")) == 2


def test_outage_answers_503_for_the_service_only(seeded, boto_client, gate):
    gate.outage("ssm")
    with pytest.raises(ClientError) as err:
        boto_client("ssm").get_parameter(Name=PARAMETER[0])
    assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert boto_client("secretsmanager").get_secret_value(SecretId=SECRET[0])["SecretString"] == SECRET[1]
    gate.clear_rules(kind="outage")
    assert boto_client("ssm").get_parameter(Name=PARAMETER[0])["Parameter"]["Value"] == PARAMETER[1]


def test_deny_answers_access_denied_in_each_protocol(seeded, boto_client, gate):
    gate.deny("secretsmanager", operation="GetSecretValue")
    gate.deny("sts", operation="GetCallerIdentity")
    with pytest.raises(ClientError) as err:
        boto_client("secretsmanager").get_secret_value(SecretId=SECRET[0])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "secretsmanager:GetSecretValue" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        boto_client("sts").get_caller_identity()
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert boto_client("ssm").get_parameter(Name=PARAMETER[0])["Parameter"]["Value"] == PARAMETER[1]


def test_deny_can_target_one_instance(seeded, boto_client, gate):
    gate.deny("ssm", instance_id="i-bad")
    with pytest.raises(ClientError):
        boto_client("ssm", user_agent_appid="i-bad").get_parameter(Name=PARAMETER[0])
    assert boto_client("ssm", user_agent_appid="i-good").get_parameter(Name=PARAMETER[0])
