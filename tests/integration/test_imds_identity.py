"""Signed instance identity documents, IMDSv1 credentials and the hop limit.

Signature formats follow AWS's "Verify the instance identity document" pages: ``signature`` is
base64 RSA-SHA256 over the document, ``pkcs7``/``rsa2048`` are base64 PKCS#7 SignedData served
without PEM armour, verified with ``openssl smime -verify -in rsa2048 -inform PEM -certfile cert``.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.integration._imds_helpers import TOKEN_HEADER, TTL_HEADER, imds_call, token, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def inst(imds):
    return imds.add_instance(role="web-role", product_codes=["abc123xyz"], listener=True,
                             settings={"rate_limit": None})


def get(url: str, path: str, tok: str | None) -> tuple[int, str]:
    status, _, body = imds_call(url, "GET", path, {TOKEN_HEADER: tok} if tok else {})
    return status, body


def identity(imds, inst) -> dict[str, str]:
    url = imds.listener_url(inst["instance_id"])
    tok = token(url)
    return {kind: get(url, f"/latest/dynamic/instance-identity/{kind}", tok)[1]
            for kind in ("document", "signature", "pkcs7", "rsa2048")}


def test_document_has_the_real_keys_and_this_instance(imds, inst):
    doc = json.loads(identity(imds, inst)["document"])
    assert list(doc) == ["accountId", "architecture", "availabilityZone", "billingProducts", "devpayProductCodes",
                         "marketplaceProductCodes", "imageId", "instanceId", "instanceType", "kernelId",
                         "pendingTime", "privateIp", "ramdiskId", "region", "version"]
    assert doc["instanceId"] == inst["instance_id"] and doc["marketplaceProductCodes"] == ["abc123xyz"]


def test_signature_verifies_with_the_published_test_certificate(imds, inst):
    signed = identity(imds, inst)
    cert = x509.load_pem_x509_certificate(imds.signing_certificate().encode())
    raw = base64.b64decode(signed["signature"])
    cert.public_key().verify(raw, signed["document"].encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(Exception):  # noqa: B017 - InvalidSignature: a changed document fails
        cert.public_key().verify(raw, signed["document"].replace("x86_64", "arm64").encode(),
                                 padding.PKCS1v15(), hashes.SHA256())
    assert "TEST KEY" in cert.subject.rfc4514_string()
    # Signed once per instance: the same bytes every time.
    assert identity(imds, inst)["signature"] == signed["signature"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
@pytest.mark.parametrize("kind", ["pkcs7", "rsa2048"])
def test_pkcs7_verifies_with_openssl_smime_as_aws_documents(imds, inst, kind, tmp_path):
    signed = identity(imds, inst)
    assert all(len(line) <= 64 for line in signed[kind].split("\n"))  # EC2's wrapping, no armour
    assert "BEGIN" not in signed[kind]
    (tmp_path / kind).write_text(f"-----BEGIN PKCS7-----\n{signed[kind]}\n-----END PKCS7-----\n")
    (tmp_path / "cert.pem").write_text(imds.signing_certificate())
    proc = subprocess.run(
        ["openssl", "smime", "-verify", "-in", str(tmp_path / kind), "-inform", "PEM", "-certfile",
         str(tmp_path / "cert.pem"), "-noverify"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == signed["document"]  # the signed content is the document
    assert b"Verification successful" in proc.stderr


def test_imdsv1_callers_get_their_own_credentials(imds, inst):
    iid = inst["instance_id"]
    url = imds.listener_url(iid)
    path = "/latest/meta-data/iam/security-credentials/web-role"
    imds.require_tokens(False, iid)
    v2 = json.loads(get(url, path, token(url))[1])
    v1 = json.loads(get(url, path, None)[1])
    assert v1["Code"] == v2["Code"] == "Success"
    assert v1["AccessKeyId"] != v2["AccessKeyId"]
    assert json.loads(get(url, path, None)[1])["AccessKeyId"] == v1["AccessKeyId"]  # held, not reissued
    issued = {c["access_key_id"]: c for c in imds.credentials() if c["instance_id"] == iid}
    assert issued[v1["AccessKeyId"]]["delivery"] == "1.0" and issued[v2["AccessKeyId"]]["delivery"] == "2.0"
    assert set(imds.expire_credentials(iid)) == {v1["AccessKeyId"], v2["AccessKeyId"]}
    imds.require_tokens(True, iid)
    assert get(url, path, None)[0] == 401


def test_token_answer_is_lost_beyond_the_hop_limit(imds, inst):
    """A container one hop further (hops 2) on hop limit 1: the PUT is never answered, the
    caller times out (botocore's IMDS timeout is 1 s), while GETs still answer."""
    iid = inst["instance_id"]
    url = imds.listener_url(iid)
    tok = token(url)
    imds.set_hops(2, instance_id=iid)
    conn = http.client.HTTPConnection("127.0.0.1", inst["listener_port"], timeout=1.0)
    with pytest.raises(TimeoutError):
        conn.request("PUT", "/latest/api/token", headers={TTL_HEADER: "60"})
        conn.getresponse()
    conn.close()
    assert get(url, "/latest/meta-data/instance-id", tok) == (200, iid)  # the hop limit is about PUTs
    wait_until(lambda: any(e["status"] == "hop_limit_exceeded" for e in imds.log(instance_id=iid)),
               timeout=30, what="lost token answer logged")
    imds.set_hops(2, hop_limit=2, instance_id=iid)  # what container AMIs set
    assert len(token(url)) > 20


def test_botocore_falls_back_as_on_ec2_when_the_token_answer_is_lost(imds, inst):
    """botocore's fetcher gives up on the PUT after its timeout; with http_tokens optional it
    then reads credentials without a token (IMDSv1), as it does in a container on EC2."""
    from botocore.utils import InstanceMetadataFetcher

    iid = inst["instance_id"]
    imds.configure(iid, hops=2, http_tokens="optional")
    fetcher = InstanceMetadataFetcher(timeout=1, num_attempts=1,
                                      base_url=imds.listener_url(iid).rstrip("/"))
    creds = fetcher.retrieve_iam_role_credentials()
    assert creds["role_name"] == "web-role"
    v1_keys = {c["access_key_id"] for c in imds.credentials() if c["instance_id"] == iid and c["delivery"] == "1.0"}
    assert creds["access_key"] in v1_keys
