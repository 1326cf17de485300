"""Expired session credentials and IAM denies, the way AWS answers them, through the gate."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from _gate_fixtures import PARAMETER, READER_ROLE, SECRET, boto_client, gate, gate_server, moto_server, seeded  # noqa: F401
from fakes.moto import moto_enforce_iam
from fakes.seed import issue_role_credentials

pytestmark = pytest.mark.integration


def _role_clients(boto_client, creds):
    key = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"])
    return boto_client("secretsmanager", *key), boto_client("ssm", *key), boto_client("sts", *key)


def test_issue_role_credentials_honours_short_durations(seeded, moto_server):
    creds = issue_role_credentials(moto_server.url, seeded.harness_key, seeded.roles[READER_ROLE].arn, 60)
    left = (creds["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 0 < left <= 60
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Token"]


def test_expired_key_gets_expired_token_error_in_each_protocol(seeded, boto_client, gate, moto_server):
    creds = issue_role_credentials(moto_server.url, seeded.harness_key, seeded.roles[READER_ROLE].arn, 3600)
    gate.register_key(creds["AccessKeyId"], "i-0001", expiration=creds["Expiration"])
    sm, ssm, sts = _role_clients(boto_client, creds)
    assert sm.get_secret_value(SecretId=SECRET[0])["SecretString"] == SECRET[1]

    assert gate.expire_credentials(access_key=creds["AccessKeyId"]) == 1
    with pytest.raises(ClientError) as err:
        sm.get_secret_value(SecretId=SECRET[0])
    assert err.value.response["Error"] == {
        "Code": "ExpiredTokenException",
        "Message": "The security token included in the request is expired",
    }
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as err:
        sts.get_caller_identity()
    assert err.value.response["Error"]["Code"] == "ExpiredToken"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Other keys (the caller's own dummy key here) are untouched.
    assert boto_client("secretsmanager").get_secret_value(SecretId=SECRET[0])
    expired = gate.log(instance_id="i-0001", status=400)["entries"]
    assert [e["error_code"] for e in expired] == ["ExpiredTokenException", "ExpiredToken"]


def test_registered_expiration_in_the_past_is_enforced_without_a_control_call(seeded, boto_client, gate, moto_server):
    creds = issue_role_credentials(moto_server.url, seeded.harness_key, seeded.roles[READER_ROLE].arn, 3600)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    gate.register_key(creds["AccessKeyId"], "i-0002", expiration=past.isoformat())
    sm, _, _ = _role_clients(boto_client, creds)
    with pytest.raises(ClientError) as err:
        sm.get_secret_value(SecretId=SECRET[0])
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_expire_all_keys_of_an_instance_or_every_key(seeded, gate):
    for key, instance in (("ASIA1", "i-1"), ("ASIA2", "i-1"), ("ASIA3", "i-2")):
        gate.register_key(key, instance, expires_in=3600)
    assert gate.expire_credentials(instance_id="i-1") == 2
    assert gate.expire_credentials() == 4  # the three, and the dummy key the fixture registered


def test_keys_assumed_through_the_gate_are_expired_by_the_gate(seeded, boto_client, gate):
    creds = boto_client("sts").assume_role(RoleArn=seeded.roles[READER_ROLE].arn, RoleSessionName="boot")["Credentials"]
    sm = boto_client("secretsmanager", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert sm.get_secret_value(SecretId=SECRET[0])
    gate.expire_credentials()
    with pytest.raises(ClientError) as err:
        sm.get_secret_value(SecretId=SECRET[0])
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_real_iam_deny_from_moto_when_the_role_policy_lacks_the_action(seeded, boto_client, gate, moto_server):
    creds = issue_role_credentials(moto_server.url, seeded.harness_key, seeded.roles[READER_ROLE].arn, 900)
    moto_enforce_iam(moto_server.url, True)
    sm, ssm, sts = _role_clients(boto_client, creds)
    # The role may read secrets: allowed by moto's policy evaluation.
    assert sm.get_secret_value(SecretId=SECRET[0])["SecretString"] == SECRET[1]
    # Its attached managed policy is evaluated too.
    assert ssm.describe_parameters()["Parameters"]
    # It has no ssm:GetParameter: moto denies, and the gate puts it in the JSON protocol's shape.
    with pytest.raises(ClientError) as err:
        ssm.get_parameter(Name=PARAMETER[0])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "ssm:GetParameter" in err.value.response["Error"]["Message"]
    # A policy change in moto (by the harness key, which keeps full rights) takes effect at once.
    harness_iam = boto_client("iam", seeded.harness_key.access_key_id, seeded.harness_key.secret_access_key)
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}]}
    harness_iam.put_role_policy(RoleName=READER_ROLE, PolicyName="deny-secrets", PolicyDocument=json.dumps(deny))
    with pytest.raises(ClientError) as err:
        sm.get_secret_value(SecretId=SECRET[0])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    # A key moto does not know: AWS's JSON answer, not moto's XML one.
    with pytest.raises(ClientError) as err:
        boto_client("ssm", "AKIAUNKNOWNKEY000000", "x").get_parameter(Name=PARAMETER[0])
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    entries = gate.log(error_code="AccessDeniedException")["entries"]
    assert [(e["operation"], e["status"], e["by_gate"]) for e in entries] == [
        ("GetParameter", 400, False),
        ("GetSecretValue", 400, False),
    ]
