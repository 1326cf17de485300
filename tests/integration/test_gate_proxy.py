"""The gate forwards AWS calls to moto unchanged, attributes them, and guards its control API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import botocore.session
import pytest

from _gate_fixtures import PARAMETER, READER_ROLE, SECRET, boto_client, gate, gate_server, moto_server, seeded  # noqa: F401
from fakes.gate import CONTROL_PREFIX, INSTANCE_HEADER, GateClient
from fakes.seed import issue_role_credentials
from sim.errors import InvalidInput

pytestmark = pytest.mark.integration


def test_boto3_reads_secrets_parameters_and_sts_through_the_gate(seeded, boto_client, gate):
    assert boto_client("secretsmanager").get_secret_value(SecretId=SECRET[0])["SecretString"] == SECRET[1]
    assert boto_client("ssm").get_parameter(Name=PARAMETER[0])["Parameter"]["Value"] == PARAMETER[1]
    secure = boto_client("ssm").get_parameter(Name="/app/token", WithDecryption=True)["Parameter"]
    assert secure["Value"] == "t0k" and secure["Type"] == "SecureString"
    creds = boto_client("sts").assume_role(RoleArn=seeded.roles[READER_ROLE].arn, RoleSessionName="boot")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    entries = gate.log()["entries"]
    assert [(e["service"], e["operation"], e["status"], e["by_gate"]) for e in entries] == [
        ("secretsmanager", "GetSecretValue", 200, False),
        ("ssm", "GetParameter", 200, False),
        ("ssm", "GetParameter", 200, False),
        ("sts", "AssumeRole", 200, False),
    ]
    # AssumeRole answers passing through teach the gate the new key and its expiration.
    learned = {c["access_key"]: c for c in gate.credentials()}
    assert learned[creds["AccessKeyId"]]["expiration"] == pytest.approx(creds["Expiration"].timestamp(), abs=1)


def test_plain_botocore_client_works_through_the_gate(seeded, gate_server):
    session = botocore.session.get_session()
    client = session.create_client(
        "secretsmanager",
        endpoint_url=gate_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listed = client.list_secrets()["SecretList"]
    assert [s["Name"] for s in listed] == [SECRET[0]]


def test_moto_errors_pass_through_unchanged(seeded, boto_client, gate):
    with pytest.raises(Exception) as err:
        boto_client("secretsmanager").get_secret_value(SecretId="no-such-secret")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    (entry,) = gate.log()["entries"]
    status = err.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (entry["status"], entry["error_code"], entry["by_gate"]) == (status, "ResourceNotFoundException", False)


def test_request_log_attributes_calls_to_instances(seeded, boto_client, gate, moto_server):
    role_arn = seeded.roles[READER_ROLE].arn
    one = issue_role_credentials(moto_server.url, seeded.harness_key, role_arn, 3600)
    two = issue_role_credentials(moto_server.url, seeded.harness_key, role_arn, 3600)
    gate.register_key(one["AccessKeyId"], "i-0001", expiration=one["Expiration"])
    gate.register_key(two["AccessKeyId"], "i-0002", expiration=two["Expiration"])
    start = gate.log()["next"]
    for creds, calls in ((one, 2), (two, 1)):
        sm = boto_client("secretsmanager", creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"])
        for _ in range(calls):
            sm.get_secret_value(SecretId=SECRET[0])
    # Without a registered key the instance comes from the user agent app id or a header.
    boto_client("ssm", user_agent_appid="i-0003").get_parameter(Name=PARAMETER[0])
    ssm = boto_client("ssm")
    ssm.meta.events.register("before-sign.ssm.*", lambda request, **_: request.headers.__setitem__(INSTANCE_HEADER, "i-0004"))
    ssm.get_parameter(Name=PARAMETER[0])

    by_instance = [(e["instance_id"], e["access_key"], e["operation"]) for e in gate.entries(since=start)]
    assert by_instance == [
        ("i-0001", one["AccessKeyId"], "GetSecretValue"),
        ("i-0001", one["AccessKeyId"], "GetSecretValue"),
        ("i-0002", two["AccessKeyId"], "GetSecretValue"),
        ("i-0003", "testing", "GetParameter"),
        ("i-0004", "testing", "GetParameter"),
    ]
    only_one = gate.log(since=start, instance_id="i-0001")["entries"]
    assert len(only_one) == 2 and {e["instance_id"] for e in only_one} == {"i-0001"}


def test_log_cursor_returns_each_entry_once(seeded, boto_client, gate):
    ssm = boto_client("ssm")
    for _ in range(5):
        ssm.get_parameter(Name=PARAMETER[0])
    first = gate.log(limit=3)
    assert [e["seq"] for e in first["entries"]] == [first["next"] - 2, first["next"] - 1, first["next"]]
    rest = gate.log(since=first["next"])
    assert len(rest["entries"]) == 2 and rest["entries"][0]["seq"] == first["next"] + 1
    assert gate.log(since=rest["next"])["entries"] == []
    (row,) = gate.counters()
    assert (row["service"], row["operation"], row["requests"], row["status"]) == ("ssm", "GetParameter", 5, {"200": 5})


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"kind": "flood", "service": "ssm"}, "'kind' must be one of"),
        ({"kind": "quota", "service": "ssm", "rate": -1}, "'rate' must be a number >= 0, got -1"),
        ({"kind": "quota", "service": "ssm"}, "'rate' is required"),
        ({"kind": "fail_first", "service": "ssm", "count": 0}, "'count' must be an integer >= 1, got 0"),
        ({"kind": "error_rate", "service": "ssm", "probability": 1.5}, "'probability' must be a number between 0 and 1"),
        ({"kind": "error_rate", "service": "ssm", "probability": 0.1, "status": 404}, "'status' must be one of [500, 503]"),
        ({"kind": "deny", "service": ""}, "'service' must be a non-empty string"),
        ({"kind": "deny", "service": "ssm", "colour": "red"}, "unknown fields ['colour']"),
        ([1, 2], "a rule must be a JSON object, got list"),
    ],
)
def test_control_api_rejects_bad_rules_with_400(gate_server, gate, body, expected):
    req = urllib.request.Request(
        f"{gate_server.url}{CONTROL_PREFIX}/rules", data=json.dumps(body).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 400
    assert expected in json.loads(err.value.read())["error"]
    assert gate.rules() == []


def test_control_api_rejects_other_bad_input(gate_server, gate):
    def status_of(method: str, path: str, data: bytes | None = None) -> tuple[int, str]:
        req = urllib.request.Request(f"{gate_server.url}{CONTROL_PREFIX}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, ""
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())["error"]

    code, message = status_of("POST", "/rules", b"{not json")
    assert code == 400 and "invalid JSON" in message
    code, message = status_of("GET", "/log?since=abc")
    assert code == 400 and "'since' must be an integer, got 'abc'" in message
    assert status_of("GET", "/log?colour=red")[0] == 400
    code, message = status_of("GET", "/series?bucket_s=0")
    assert code == 400 and "'bucket_s' must be > 0" in message
    assert status_of("POST", "/credentials", b'{"access_key": "AK", "expiration": "soon"}')[0] == 400
    assert status_of("POST", "/credentials/expire", b'{"access_key": 7}')[0] == 400
    assert status_of("DELETE", "/rules?kind=flood")[0] == 400
    code, message = status_of("DELETE", "/rules/r999")
    assert code == 404 and "no rule with id 'r999'" in message
    assert status_of("GET", "/nothing-here")[0] == 404
    with pytest.raises(InvalidInput, match="'count' must be an integer"):
        GateClient(gate_server.url).fail_first("ssm", count=-3)
