"""The gate checks what AWS checks: missing, malformed, unknown, wrongly signed, skewed requests.

Codes and statuses are AWS's (the Common Errors of the query APIs, the JSON services'
``...Exception`` forms), asserted the way a client sees them: botocore's parsed
``ClientError`` code, the AWS CLI's message, and the raw wire format for what an SDK would not
send. The client clock is moved with ``botocore.auth.get_current_datetime``, the one clock
botocore signs with: a client on a machine whose clock is off.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from _gate_fixtures import PARAMETER, SECRET, boto_client, gate, gate_server, moto_server, seeded  # noqa: F401
from fakes.moto import DUMMY_ENV
from fakes.gate.sigv4 import AuthFailure, check_clock, read_auth

pytestmark = pytest.mark.integration

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                      "AWS Secret Access Key and signing method. Consult the service documentation for details.")


def code_of(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def raw(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_correctly_signed_calls_pass_in_both_protocols(seeded, boto_client, gate):
    sm = boto_client("secretsmanager")
    assert sm.get_secret_value(SecretId=SECRET[0])["SecretString"] == SECRET[1]
    assert boto_client("ssm").get_parameter(Name=PARAMETER[0])["Parameter"]["Value"] == PARAMETER[1]
    assert boto_client("sts").get_caller_identity()["Account"]
    # The seeded harness key: the gate was never told its secret, it found it in moto.
    harness = seeded.harness_key
    assert boto_client("sts", harness.access_key_id, harness.secret_access_key).get_caller_identity()["Arn"] \
        == harness.user_arn


def test_unsigned_requests_are_missing_authentication_token(seeded, boto_client, gate):
    sm = boto_client("secretsmanager", signature_version=UNSIGNED)
    assert code_of(lambda: sm.get_secret_value(SecretId=SECRET[0]))[:2] == ("MissingAuthenticationTokenException", 400)
    sts = boto_client("sts", signature_version=UNSIGNED)
    code, status, message = code_of(sts.get_caller_identity)
    assert (code, status, message) == ("MissingAuthenticationToken", 403, "Request is missing Authentication Token")


def test_a_wrong_secret_is_signature_does_not_match(seeded, boto_client, gate):
    sm = boto_client("secretsmanager", DUMMY_ENV["AWS_ACCESS_KEY_ID"], "not-the-secret")
    assert code_of(lambda: sm.get_secret_value(SecretId=SECRET[0])) == ("InvalidSignatureException", 400, SIGNATURE_MISMATCH)
    sts = boto_client("sts", DUMMY_ENV["AWS_ACCESS_KEY_ID"], "not-the-secret")
    assert code_of(sts.get_caller_identity) == ("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH)
    refused = list(gate.entries(error_code="SignatureDoesNotMatch"))
    assert len(refused) == 1 and refused[0]["by_gate"] in (True, 1)


def test_an_unknown_key_is_an_invalid_token_in_each_protocol(seeded, boto_client, gate):
    sm = boto_client("secretsmanager", "AKIAUNKNOWNUNKNOWN00", "whatever")
    assert code_of(lambda: sm.get_secret_value(SecretId=SECRET[0])) == (
        "UnrecognizedClientException", 400, "The security token included in the request is invalid.")
    sts = boto_client("sts", "AKIAUNKNOWNUNKNOWN00", "whatever")
    assert code_of(sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)


def test_session_keys_from_moto_are_verified_with_their_secret_and_token(seeded, boto_client, gate, moto_server):
    from fakes.seed import issue_role_credentials

    creds = issue_role_credentials(moto_server.url, seeded.harness_key, seeded.roles["secret-reader"].arn, 900)
    key, secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"]
    assert boto_client("sts", key, secret, token).get_caller_identity()["Arn"].startswith("arn:aws:sts::")
    assert code_of(boto_client("sts", key, secret, token + "x").get_caller_identity)[0] == "InvalidClientTokenId"
    assert code_of(boto_client("sts", key, secret + "0", token).get_caller_identity)[0] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("offset_min, fragment", [(-16, "Signature expired: "), (16, "Signature not yet current: ")])
def test_a_client_clock_more_than_15_minutes_off_is_refused(seeded, boto_client, gate, offset_min, fragment):
    skewed = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=offset_min)
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed):
        code, status, message = code_of(boto_client("sts").get_caller_identity)
        assert (code, status) == ("SignatureDoesNotMatch", 403) and message.startswith(fragment)
        sm = boto_client("secretsmanager")
        assert code_of(lambda: sm.get_secret_value(SecretId=SECRET[0]))[0] == "InvalidSignatureException"
    near = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=offset_min * 14 / 16)
    with mock.patch("botocore.auth.get_current_datetime", return_value=near):
        assert boto_client("sts").get_caller_identity()["Account"]  # 14 minutes off: inside AWS's window


def test_malformed_authorization_is_incomplete_signature(seeded, gate_server, gate):
    form = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
               "X-Amz-Date": dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
               "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request"}
    status, body = raw(gate_server.url + "/", form, headers)
    assert status == 400 and b"<Code>IncompleteSignature</Code>" in body
    assert b"requires 'Signature' parameter" in body and b"requires 'SignedHeaders' parameter" in body
    target = {"X-Amz-Target": "secretsmanager.GetSecretValue", "Content-Type": "application/x-amz-json-1.1",
              "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, "
                               "SignedHeaders=host, Signature=00"}  # no X-Amz-Date
    status, body = raw(gate_server.url + "/", b"{}", target)
    assert status == 400 and b'"IncompleteSignatureException"' in body and b"X-Amz-Date" in body


def test_presigned_urls_are_verified(seeded, boto_client, gate):
    # GET, as aws-iam-authenticator's EKS tokens (botocore would sign the operation's POST).
    url = boto_client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200 and b"<GetCallerIdentityResult>" in answer.read()
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(tampered, timeout=30)
    assert err.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in err.value.read()
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        expired = boto_client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(expired, timeout=30)
    assert err.value.code == 400 and b"<Code>RequestExpired</Code>" in err.value.read()


def test_the_aws_cli_works_and_a_wrong_secret_fails_as_on_aws(seeded, gate_server, gate, tmp_path):
    aws = shutil.which("aws", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if aws is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli, in the test extra)")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": DUMMY_ENV["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
           "AWS_EC2_METADATA_DISABLED": "true"}
    argv = [aws, "--endpoint-url", gate_server.url, "secretsmanager", "get-secret-value", "--secret-id", SECRET[0],
            "--query", "SecretString", "--output", "text"]
    ok = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.strip() == SECRET[1], ok.stderr
    bad = subprocess.run(argv, env={**env, "AWS_SECRET_ACCESS_KEY": "wrong"}, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "(InvalidSignatureException) when calling the GetSecretValue operation: The request signature we " \
           "calculated does not match" in bad.stderr


def test_read_auth_and_clock_rules_without_a_server():
    with pytest.raises(AuthFailure) as err:
        read_auth({}, [])
    assert err.value.kind == "missing"
    with pytest.raises(AuthFailure) as err:
        read_auth({"Authorization": "AWS access:signature"}, [])  # signature version 2
    assert err.value.kind == "incomplete"
    auth = read_auth({"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sts/aws4_request, "
                                       "SignedHeaders=host;x-amz-date, Signature=ab",
                      "X-Amz-Date": "20260101T000000Z"}, [])
    assert (auth.access_key, auth.region, auth.service, auth.signed_headers) == ("AK", "us-east-1", "sts",
                                                                                  ("host", "x-amz-date"))
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    check_clock(auth, at + 15 * 60)  # exactly 15 minutes: still accepted
    with pytest.raises(AuthFailure, match=r"Signature expired: 20260101T000000Z is now earlier than "
                                          r"20260101T000001Z \(20260101T001501Z - 15 min.\)"):
        check_clock(auth, at + 15 * 60 + 1)


def test_an_invented_key_is_looked_up_in_moto_once_then_refused_until_registered(seeded, boto_client, gate):
    sts = boto_client("sts", "AKIAINVENTED00000000", "s3cret")
    for _ in range(3):
        assert code_of(sts.get_caller_identity)[0] == "InvalidClientTokenId"
    gate.register_key("AKIAINVENTED00000000", secret_key="s3cret")
    assert sts.get_caller_identity()["Account"]  # registered with its secret: accepted
    described = [c for c in gate.credentials() if c["access_key"] == "AKIAINVENTED00000000"]
    assert described == [{"access_key": "AKIAINVENTED00000000", "instance_id": None, "expiration": None,
                          "verifiable": True}]  # the secret itself is never returned


def test_a_key_registered_without_its_secret_is_learned_from_moto_before_first_use(seeded, gate, moto_server):
    # The stack registers each IMDS-issued key (no secret); the gate looks it up in moto in the
    # background, so the instance's first call does not wait for that lookup.
    import time

    from fakes.seed import issue_role_credentials

    creds = issue_role_credentials(moto_server.url, seeded.harness_key, seeded.roles["secret-reader"].arn, 900)
    gate.register_key(creds["AccessKeyId"], "i-0042", expires_in=900)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        entry = next(c for c in gate.credentials() if c["access_key"] == creds["AccessKeyId"])
        if entry["verifiable"]:
            break
        time.sleep(0.05)  # polling for readiness, not synchronisation by sleep
    assert entry == {"access_key": creds["AccessKeyId"], "instance_id": "i-0042",
                     "expiration": entry["expiration"], "verifiable": True}
