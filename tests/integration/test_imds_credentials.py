"""Role credentials through the fake IMDS: moto STS issues them, unchanged AWS clients use them.

botocore, boto3 and the AWS CLI are pointed at one instance with nothing but
``AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/<instance-id>/``: botocore joins the
endpoint and ``latest/...`` with a slash, so the per-instance path prefix works unchanged.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time

import pytest

from fakes.imds import ImdsClient
from tests.integration._imds_helpers import ROLE, TOKEN_HEADER, TTL_HEADER, imds_call, moto_client, scrubbed_env, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def imds(imds_moto) -> ImdsClient:
    return ImdsClient(imds_moto.url)


@pytest.fixture
def inst(imds):
    return imds.add_instance(role=ROLE, availability_zone="us-east-1c", settings={"rate_limit": None})


def fetch_credentials(imds, instance_id: str) -> dict:
    from botocore.utils import InstanceMetadataFetcher

    fetcher = InstanceMetadataFetcher(timeout=10, num_attempts=2,
                                      config={"ec2_metadata_service_endpoint": imds.endpoint(instance_id)})
    creds = fetcher.retrieve_iam_role_credentials()
    assert creds, "botocore got no credentials from the fake IMDS"
    return creds


def raw_credentials(imds, instance_id: str) -> dict:
    base = imds.endpoint(instance_id)
    _, _, tok = imds_call(base, "PUT", "latest/api/token", {TTL_HEADER: "300"})
    status, _, body = imds_call(base, "GET", f"latest/meta-data/iam/security-credentials/{ROLE}", {TOKEN_HEADER: tok})
    assert status == 200, body
    return json.loads(body)


def caller_arn(moto_url: str, creds: dict) -> str:
    sts = moto_client(moto_url, "sts", aws_access_key_id=creds["access_key"],
                      aws_secret_access_key=creds["secret_key"], aws_session_token=creds["token"])
    return sts.get_caller_identity()["Arn"]


def test_botocore_fetcher_and_provider_get_moto_credentials(imds, inst, moto_server):
    from botocore.credentials import InstanceMetadataProvider
    from botocore.utils import InstanceMetadataFetcher

    creds = fetch_credentials(imds, inst["instance_id"])
    assert creds["role_name"] == ROLE and creds["access_key"].startswith("ASIA")
    assert caller_arn(moto_server.url, creds) == f"arn:aws:sts::123456789012:assumed-role/{ROLE}/{inst['instance_id']}"
    provider = InstanceMetadataProvider(InstanceMetadataFetcher(
        timeout=10, num_attempts=2, config={"ec2_metadata_service_endpoint": imds.endpoint(inst["instance_id"])}))
    loaded = provider.load()
    assert loaded is not None and loaded.method == "iam-role"
    assert loaded.get_frozen_credentials().access_key == creds["access_key"]


def test_ledger_reports_intended_expiration(imds, moto_server):
    short = imds.add_instance(role=ROLE, settings={"rate_limit": None, "credential_lifetime": 60})
    before = time.time()
    body = raw_credentials(imds, short["instance_id"])
    expiration = datetime.datetime.strptime(body["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert before + 58 <= expiration <= time.time() + 60  # 60 s, although moto issued 900 s
    issued = [c for c in imds.credentials() if c["instance_id"] == short["instance_id"]]
    assert [(c["access_key_id"], c["expiration"]) for c in issued] == [(body["AccessKeyId"], expiration)]


def test_credentials_rotate_before_expiry(imds, moto_server):
    # Held credentials are served until 6 s after issue (40 s lifetime, refresh 34 s before).
    fast = imds.add_instance(role=ROLE, settings={"rate_limit": None, "credential_lifetime": 40,
                                                   "credential_refresh_before": 34})
    first = raw_credentials(imds, fast["instance_id"])
    assert raw_credentials(imds, fast["instance_id"])["AccessKeyId"] == first["AccessKeyId"]
    def rotated():
        current = raw_credentials(imds, fast["instance_id"])
        return current if current["AccessKeyId"] != first["AccessKeyId"] else None

    second = wait_until(rotated, timeout=60, interval=0.25, what="credential rotation")
    assert second["Expiration"] > first["Expiration"]
    keys = [c["access_key_id"] for c in imds.credentials() if c["instance_id"] == fast["instance_id"]]
    assert keys[:2] == [first["AccessKeyId"], second["AccessKeyId"]]


def test_expire_credentials_now(imds, inst):
    first = raw_credentials(imds, inst["instance_id"])
    assert imds.expire_credentials(inst["instance_id"]) == [first["AccessKeyId"]]
    entry = next(c for c in imds.credentials() if c["access_key_id"] == first["AccessKeyId"])
    assert entry["expiration"] <= time.time()
    assert raw_credentials(imds, inst["instance_id"])["AccessKeyId"] != first["AccessKeyId"]


def test_instances_get_their_own_credentials(imds, inst, moto_server):
    other = imds.add_instance(role=ROLE, settings={"rate_limit": None})
    a, b = fetch_credentials(imds, inst["instance_id"]), fetch_credentials(imds, other["instance_id"])
    assert a["access_key"] != b["access_key"]
    assert caller_arn(moto_server.url, b).endswith(f"/{other['instance_id']}")


def test_botocore_stretches_short_lived_imds_credentials(imds):
    """Locks a fact the harness relies on: botocore treats IMDS credentials that expire within
    its refresh window (10 min + 2..10 min jitter) as valid for that much longer, so a 60 s
    lifetime is NOT refreshed by the SDK; the AWS gate sees the expired key."""
    short = imds.add_instance(role=ROLE, settings={"rate_limit": None, "credential_lifetime": 60})
    creds = fetch_credentials(imds, short["instance_id"])
    reported = next(c for c in imds.credentials() if c["instance_id"] == short["instance_id"])
    seen = datetime.datetime.strptime(creds["expiry_time"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert seen >= reported["expiration"] + 600


def test_boto3_session_with_only_the_imds_endpoint(imds, inst, tmp_path):
    code = ("import boto3, json; c = boto3.Session(region_name='us-east-1').get_credentials(); "
            "f = c.get_frozen_credentials(); print(json.dumps([c.method, f.access_key]))")
    env = scrubbed_env(str(tmp_path), AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint(inst["instance_id"]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    method, key = json.loads(out.stdout)
    assert method == "iam-role"
    assert key in [c["access_key_id"] for c in imds.credentials() if c["instance_id"] == inst["instance_id"]]


def test_aws_cli_uses_imds_credentials(imds, inst, moto_server, tmp_path):
    moto_client(moto_server.url, "secretsmanager").create_secret(Name="db-password", SecretString="hunter2")
    env = scrubbed_env(str(tmp_path), AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint(inst["instance_id"]),
                       AWS_ENDPOINT_URL=moto_server.url, AWS_DEFAULT_REGION="us-east-1")

    def aws(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    identity = json.loads(aws("sts", "get-caller-identity"))
    assert identity["Arn"].endswith(f"assumed-role/{ROLE}/{inst['instance_id']}")
    secret = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", "db-password"))
    assert secret["SecretString"] == "hunter2"
    # The CLI has no command that reads instance metadata; `configure list` shows the source.
    assert "iam-role" in aws("configure", "list")


def test_failed_assume_role_is_reported_like_ec2(start_imds_server):
    server = start_imds_server(moto_url="http://127.0.0.1:9")  # nothing listens on the discard port
    imds = ImdsClient(server.url)
    inst = imds.add_instance(role=ROLE, settings={"rate_limit": None})
    body = raw_credentials(imds, inst["instance_id"])
    assert body["Code"] != "Success" and "Message" in body
    from botocore.utils import InstanceMetadataFetcher

    fetcher = InstanceMetadataFetcher(timeout=10, num_attempts=1,
                                      config={"ec2_metadata_service_endpoint": imds.endpoint(inst["instance_id"])})
    assert fetcher.retrieve_iam_role_credentials() == {}
