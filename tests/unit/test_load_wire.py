"""The load engine without Locust: requests as SDKs send them, answers as codes, the plan."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.credentials import Credentials

from sim.engines.load.plan import instance_id, plan_load
from sim.engines.load.wire import build_request, check_operations, read_answer
from sim.errors import InvalidInput
from sim.scenario import load_scenario

JOB = {"role": "bootstrap-role", "region": "us-east-1", "secret_id": "app/db-password",
       "parameter": "/app/config", "token_ttl": 21600}


def inst(**kw):
    base = {"instance_id": "i-0abc", "token": "tok", "credentials": Credentials("ASIAEXAMPLE", "secret", "sess")}
    return SimpleNamespace(**{**base, **kw})


def test_aws_calls_are_sigv4_signed_with_the_instances_role_credentials():
    req = build_request("secretsmanager", "GetSecretValue", "http://127.0.0.1:9/", inst(), JOB)
    auth = req.headers["Authorization"]
    # botocore's SigV4: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/")
    assert "/us-east-1/secretsmanager/aws4_request" in auth and "Signature=" in auth
    assert req.headers["X-Amz-Security-Token"] == "sess"
    assert req.headers["X-Amz-Target"] == "secretsmanager.GetSecretValue"
    assert b'"SecretId": "app/db-password"' in req.body
    assert "app/i-0abc" in req.headers["User-Agent"]  # how the gate attributes a new key
    sts = build_request("sts", "GetCallerIdentity", "http://127.0.0.1:9", inst(), JOB)
    assert b"Action=GetCallerIdentity" in sts.body and "/sts/aws4_request" in sts.headers["Authorization"]


def test_imds_requests_follow_imdsv2():
    put = build_request("imds", "PutToken", "http://127.0.0.1:9", inst(token=None), JOB)
    assert (put.method, put.url) == ("PUT", "http://127.0.0.1:9/i-0abc/latest/api/token")
    assert put.headers == {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}
    get = build_request("imds", "GetCredentials", "http://127.0.0.1:9", inst(), JOB)
    assert get.url.endswith("/i-0abc/latest/meta-data/iam/security-credentials/bootstrap-role")
    assert get.headers == {"X-aws-ec2-metadata-token": "tok"}


@pytest.mark.parametrize("dep,status,headers,body,code", [
    ("secretsmanager", 400, {}, b'{"__type":"ThrottlingException","message":"Rate exceeded"}', "ThrottlingException"),
    ("ssm", 400, {"x-amzn-ErrorType": "ThrottlingException:http://internal"}, b"", "ThrottlingException"),
    ("sts", 400, {}, b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", "Throttling"),
    ("secretsmanager", 400, {}, b'{"__type":"com.amazonaws#ExpiredTokenException"}', "ExpiredTokenException"),
    ("imds", 401, {}, b"", "Unauthorized"),
    ("imds", 429, {}, b"", "TooManyRequestsException"),
    ("registry", 503, {}, b"", "ServiceUnavailable"),
    ("registry", 418, {}, b"", "HTTP418"),
])
def test_answers_become_the_codes_the_model_uses(dep, status, headers, body, code):
    answer = read_answer(dep, status, headers, body)
    assert not answer.ok and answer.code == code and answer.status == status
    assert read_answer(dep, 200, {}, b"{}").ok


def test_calls_no_fake_answers_are_refused_naming_the_step():
    s = load_scenario("scenarios/retry-storm.yaml")
    with pytest.raises(InvalidInput, match=r"bootstrap\.steps\.0\.call: config\.GetConfig"):
        check_operations(s)


def test_the_plan_scales_the_scenarios_clock_and_keeps_the_arrival_shape():
    s = load_scenario("scenarios/secrets-partition.yaml", ["load.instances=100", "load.time_scale=0.1"])
    plan = plan_load(s, workers=2)
    assert plan.size == 100 and plan.workers == 2
    assert plan.launches[-1] == pytest.approx(0.99 * 300 * 0.1)  # the 5-minute ramp, x0.1
    assert plan.faults[0].at == pytest.approx(12.0) and plan.faults[0].for_ == pytest.approx(18.0)
    assert plan.horizon == pytest.approx(45 * 60 * 0.1)
    assert any("time compressed x0.1" in w for w in plan.warnings)
    assert any("100 virtual instances" in w for w in plan.warnings)
    assert instance_id(3, 2) == "i-00000000000300002"


def test_a_busy_worker_or_a_fake_at_capacity_marks_the_run():
    from sim.engines.load.assemble import load_warnings

    capacity = {"moto": {"rps": 200}, "imds": {"rps": 1000}, "sinks": {"rps": 1500}}
    calls = [["c", 0.001 * i, 0.01, "ssm", "GetParameter", "i-1", True, 200, None, "served"] for i in range(190)]
    quiet = load_warnings({"worker_cpu_max_percent": 40}, calls[:50], capacity, 10.0, 2, 0.5)
    assert quiet == []
    busy = load_warnings({"worker_cpu_max_percent": 97}, calls, capacity, 10.0, 2, 0.5)
    assert any("fake 'moto' peaked at 190 req/s" in w for w in busy)
    assert any("Locust worker reached 97% CPU" in w for w in busy)


def test_a_bad_load_section_names_the_field():
    from sim.errors import InvalidScenario

    with pytest.raises(InvalidScenario) as err:
        load_scenario("scenarios/secrets-partition.yaml", ["load.instances=0", "load.time_scale=-1"])
    text = str(err.value)
    assert "load.instances" in text and "load.time_scale" in text
