"""With moto enforcing IAM, the IMDS must sign AssumeRole with a key moto's IAM knows."""

from __future__ import annotations

import json

import pytest

from fakes.imds import ImdsClient
from fakes.moto import moto_enforce_iam
from tests.integration._imds_helpers import ROLE, TOKEN_HEADER, TTL_HEADER, create_role, imds_call, moto_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness_key(moto_server) -> tuple[str, str]:
    """An IAM user allowed to assume the role, then enforcement on (what `fakes.seed` does).

    moto checks the caller against the role's trust policy, so the role trusts the user too."""
    iam = moto_client(moto_server.url, "iam")
    user_arn = iam.create_user(UserName="harness")["User"]["Arn"]
    role_arn = create_role(moto_server.url, trusted_arn=user_arn)
    iam.put_user_policy(UserName="harness", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }))
    key = iam.create_access_key(UserName="harness")["AccessKey"]
    moto_enforce_iam(moto_server.url, True)
    yield key["AccessKeyId"], key["SecretAccessKey"]
    moto_enforce_iam(moto_server.url, False)


def credentials_body(server, instance_id: str) -> dict:
    base = ImdsClient(server.url).endpoint(instance_id)
    _, _, tok = imds_call(base, "PUT", "latest/api/token", {TTL_HEADER: "60"})
    status, _, body = imds_call(base, "GET", f"latest/meta-data/iam/security-credentials/{ROLE}", {TOKEN_HEADER: tok})
    assert status == 200
    return json.loads(body)


def test_harness_key_gets_credentials_under_enforcement(moto_server, harness_key, start_imds_server):
    server = start_imds_server(moto_url=moto_server.url, moto_caller=harness_key)
    inst = ImdsClient(server.url).add_instance(role=ROLE, settings={"rate_limit": None})
    body = credentials_body(server, inst["instance_id"])
    assert body["Code"] == "Success"
    sts = moto_client(moto_server.url, "sts", aws_access_key_id=body["AccessKeyId"],
                      aws_secret_access_key=body["SecretAccessKey"], aws_session_token=body["Token"])
    assert sts.get_caller_identity()["Arn"].endswith(f"assumed-role/{ROLE}/{inst['instance_id']}")


def test_dummy_key_is_refused_under_enforcement(moto_server, harness_key, start_imds_server):
    server = start_imds_server(moto_url=moto_server.url)
    inst = ImdsClient(server.url).add_instance(role=ROLE, settings={"rate_limit": None})
    body = credentials_body(server, inst["instance_id"])
    assert body["Code"] == "AssumeRoleUnauthorizedAccess" and "AccessKeyId" not in body
