"""The IMDSv2 protocol of the fake metadata service, against the real server process."""

from __future__ import annotations

import http.client
import json
import re
import time

import pytest

from sim.errors import FakeFailed
from tests.integration._imds_helpers import TOKEN_HEADER, TTL_HEADER, imds_call, wait_until

pytestmark = pytest.mark.integration
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def inst(imds):
    """A fresh instance per test, so settings changed by one test never leak into another."""
    return imds.add_instance(role="web-role", availability_zone="eu-west-1b", instance_type="m5.large",
                             tags={"Name": "web-1", "team": "core"}, settings={"rate_limit": None})


def base(imds, inst) -> str:
    return imds.endpoint(inst["instance_id"])


def token(imds, inst, ttl: int = 300) -> str:
    status, headers, body = imds_call(base(imds, inst), "PUT", "latest/api/token", {TTL_HEADER: str(ttl)})
    assert status == 200, body
    return body


def get(imds, inst, path: str, tok: str | None = None) -> tuple[int, str]:
    headers = {TOKEN_HEADER: tok} if tok is not None else {}
    status, _, body = imds_call(base(imds, inst), "GET", path, headers)
    return status, body


def test_token_put_returns_token_and_echoes_ttl(imds, inst):
    status, headers, body = imds_call(base(imds, inst), "PUT", "latest/api/token", {TTL_HEADER: "21600"})
    assert status == 200
    assert headers[TTL_HEADER.lower()] == "21600"
    assert headers["content-type"].startswith("text/plain")
    assert len(body) > 20 and "\n" not in body


@pytest.mark.parametrize("ttl", [None, "0", "21601", "abc", "-5", "1.5", ""])
def test_token_put_with_missing_or_invalid_ttl_is_400(imds, inst, ttl):
    headers = {} if ttl is None else {TTL_HEADER: ttl}
    status, _, body = imds_call(base(imds, inst), "PUT", "latest/api/token", headers)
    assert status == 400
    assert "400 - Bad Request" in body


def test_token_put_with_x_forwarded_for_is_403(imds, inst):
    status, _, _ = imds_call(base(imds, inst), "PUT", "latest/api/token",
                             {TTL_HEADER: "60", "X-Forwarded-For": "203.0.113.7"})
    assert status == 403


def test_get_on_token_path_and_put_on_metadata_are_405(imds, inst):
    assert imds_call(base(imds, inst), "GET", "latest/api/token")[0] == 405
    assert imds_call(base(imds, inst), "PUT", "latest/meta-data/instance-id", {TTL_HEADER: "60"})[0] == 405


def test_tokens_required_rejects_missing_and_unknown_tokens(imds, inst):
    assert get(imds, inst, "latest/meta-data/instance-id") == (401, get(imds, inst, "latest/meta-data/")[1])
    assert get(imds, inst, "latest/meta-data/instance-id", "not-a-token")[0] == 401
    assert get(imds, inst, "latest/meta-data/instance-id", token(imds, inst)) == (200, inst["instance_id"])


def test_optional_mode_allows_imdsv1_but_still_rejects_a_bad_token(imds, inst):
    imds.require_tokens(False, inst["instance_id"])
    assert get(imds, inst, "latest/meta-data/instance-id") == (200, inst["instance_id"])
    assert get(imds, inst, "latest/meta-data/instance-id", "bogus")[0] == 401
    imds.require_tokens(True, inst["instance_id"])
    assert get(imds, inst, "latest/meta-data/instance-id")[0] == 401


def test_token_expires_after_its_ttl(imds, inst):
    tok = token(imds, inst, ttl=1)
    assert get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 200
    wait_until(lambda: get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 401,
               timeout=20, what="token with TTL 1s rejected")
    # A new token works again: expiry is per token, not per instance.
    assert get(imds, inst, "latest/meta-data/instance-id", token(imds, inst))[0] == 200


def test_token_ttl_cap_shortens_tokens_and_is_echoed(imds, inst):
    imds.set_token_ttl_cap(1, inst["instance_id"])
    status, headers, tok = imds_call(base(imds, inst), "PUT", "latest/api/token", {TTL_HEADER: "21600"})
    assert status == 200 and headers[TTL_HEADER.lower()] == "1"
    wait_until(lambda: get(imds, inst, "latest/meta-data/ami-id", tok)[0] == 401, timeout=20,
               what="capped token rejected")


def test_expire_tokens_now(imds, inst):
    tok = token(imds, inst)
    assert imds.expire_tokens(inst["instance_id"]) >= 1
    assert get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 401


def test_tokens_are_per_instance(imds, inst):
    other = imds.add_instance(settings={"rate_limit": None})
    tok_a = token(imds, inst)
    assert get(imds, other, "latest/meta-data/instance-id", tok_a)[0] == 401
    tok_b = token(imds, other)
    assert get(imds, other, "latest/meta-data/instance-id", tok_b) == (200, other["instance_id"])
    assert other["instance_id"] != inst["instance_id"]
    assert get(imds, other, "latest/meta-data/local-ipv4", tok_b)[1] != get(
        imds, inst, "latest/meta-data/local-ipv4", tok_a)[1]


def test_metadata_values(imds, inst):
    tok = token(imds, inst)
    expect = {
        "latest/meta-data/instance-id": inst["instance_id"],
        "latest/meta-data/instance-type": "m5.large",
        "latest/meta-data/ami-id": inst["ami_id"],
        "latest/meta-data/local-ipv4": inst["local_ipv4"],
        "latest/meta-data/mac": inst["mac"],
        "latest/meta-data/hostname": inst["hostname"],
        "latest/meta-data/local-hostname": inst["hostname"],
        "latest/meta-data/placement/availability-zone": "eu-west-1b",
        "latest/meta-data/placement/availability-zone/": "eu-west-1b",
        "latest/meta-data/placement/region": "eu-west-1",
        "latest/meta-data/iam/security-credentials/": "web-role",
    }
    for path, value in expect.items():
        assert get(imds, inst, path, tok) == (200, value), path
    assert inst["hostname"].endswith(".eu-west-1.compute.internal")


def test_directory_listings(imds, inst):
    tok = token(imds, inst)
    status, listing = get(imds, inst, "latest/meta-data/", tok)
    assert status == 200
    lines = listing.split("\n")
    assert lines == sorted(lines)
    assert {"instance-id", "placement/", "iam/", "network/", "local-ipv4"} <= set(lines)
    assert "tags/" not in lines  # instance_metadata_tags is off by default
    assert get(imds, inst, "latest/meta-data/placement", tok)[1].split("\n") == [
        "availability-zone", "availability-zone-id", "region"]
    assert get(imds, inst, "latest/", tok)[1].split("\n") == ["dynamic", "meta-data"]


def test_tags_only_when_enabled(imds, inst):
    tok = token(imds, inst)
    assert get(imds, inst, "latest/meta-data/tags/instance/", tok)[0] == 404
    imds.configure(inst["instance_id"], instance_metadata_tags=True)
    assert get(imds, inst, "latest/meta-data/tags/instance/", tok) == (200, "Name\nteam")
    assert get(imds, inst, "latest/meta-data/tags/instance/Name", tok) == (200, "web-1")
    assert "tags/" in get(imds, inst, "latest/meta-data/", tok)[1].split("\n")


def test_iam_info_and_credentials_shape(imds, inst):
    tok = token(imds, inst)
    status, body = get(imds, inst, "latest/meta-data/iam/info", tok)
    info = json.loads(body)
    assert status == 200 and info["Code"] == "Success"
    assert info["InstanceProfileArn"].endswith(":instance-profile/web-role")
    status, body = get(imds, inst, "latest/meta-data/iam/security-credentials/web-role", tok)
    creds = json.loads(body)
    assert status == 200
    assert list(creds) == ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"]
    assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC"
    assert ISO.match(creds["Expiration"]) and ISO.match(creds["LastUpdated"])
    assert '"Code" : "Success"' in body  # EC2's own JSON layout
    assert get(imds, inst, "latest/meta-data/iam/security-credentials/other-role", tok)[0] == 404


def test_no_role_means_no_iam_tree(imds):
    bare = imds.add_instance(settings={"rate_limit": None})
    tok = token(imds, bare)
    assert "iam/" not in get(imds, bare, "latest/meta-data/", tok)[1].split("\n")
    assert get(imds, bare, "latest/meta-data/iam/security-credentials/", tok)[0] == 404


def test_identity_document_has_the_real_keys(imds, inst):
    status, body = get(imds, inst, "latest/dynamic/instance-identity/document", token(imds, inst))
    doc = json.loads(body)
    assert status == 200
    assert set(doc) == {"accountId", "architecture", "availabilityZone", "billingProducts", "devpayProductCodes",
                        "marketplaceProductCodes", "imageId", "instanceId", "instanceType", "kernelId",
                        "pendingTime", "privateIp", "ramdiskId", "region", "version"}
    assert (doc["instanceId"], doc["availabilityZone"], doc["region"], doc["privateIp"]) == (
        inst["instance_id"], "eu-west-1b", "eu-west-1", inst["local_ipv4"])


def test_user_data_404_when_none_and_served_when_set(imds, inst):
    tok = token(imds, inst)
    assert get(imds, inst, "latest/user-data", tok)[0] == 404
    with_data = imds.add_instance(user_data="#!/bin/sh\necho hi\n", settings={"rate_limit": None})
    tok2 = token(imds, with_data)
    assert get(imds, with_data, "latest/user-data", tok2) == (200, "#!/bin/sh\necho hi\n")
    assert "user-data" in get(imds, with_data, "latest/", tok2)[1].split("\n")


def test_unknown_paths_and_instances_are_404(imds, inst):
    tok = token(imds, inst)
    assert get(imds, inst, "latest/meta-data/no-such-thing", tok)[0] == 404
    assert get(imds, inst, "latest/nothing", tok)[0] == 404
    assert get(imds, inst, "latest/meta-data/instance-id/deeper", tok)[0] == 404
    status, _, _ = imds_call(imds.url, "PUT", "/i-0000000000000dead/latest/api/token", {TTL_HEADER: "60"})
    assert status == 404


def test_disabled_endpoint_is_403_for_everything(imds, inst):
    tok = token(imds, inst)
    imds.set_endpoint(False, inst["instance_id"])
    assert imds_call(base(imds, inst), "PUT", "latest/api/token", {TTL_HEADER: "60"})[0] == 403
    assert get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 403
    imds.set_endpoint(True, inst["instance_id"])
    assert get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 200


def test_outage_is_503_and_latency_delays_answers(imds, inst):
    tok = token(imds, inst)
    imds.set_outage(True, inst["instance_id"])
    assert get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 503
    imds.set_outage(False, inst["instance_id"])
    imds.set_latency(0.3, inst["instance_id"])
    started = time.monotonic()
    assert get(imds, inst, "latest/meta-data/instance-id", tok)[0] == 200
    assert time.monotonic() - started >= 0.3


def test_request_limit_answers_429_per_instance(imds, inst):
    tok = token(imds, inst)
    neighbour = imds.add_instance(settings={"rate_limit": None})
    tok_n = token(imds, neighbour)
    imds.set_limit(2, inst["instance_id"])  # 2 requests/s, burst 2
    statuses = [get(imds, inst, "latest/meta-data/instance-id", tok)[0] for _ in range(20)]
    assert set(statuses) <= {200, 429}
    # 20 requests take far less than 9 s even on a loaded machine, so most must be refused.
    assert statuses.count(429) >= 10, statuses
    assert statuses[0] == 200
    assert get(imds, neighbour, "latest/meta-data/instance-id", tok_n)[0] == 200
    throttled = [e for e in imds.log(instance_id=inst["instance_id"]) if e["status"] == 429]
    assert len(throttled) == statuses.count(429)


def test_drop_mode_answers_nothing(imds, inst):
    tok = token(imds, inst)
    imds.configure(inst["instance_id"], rate_limit=1, throttle_mode="drop", drop_stall=0.2)
    get(imds, inst, "latest/meta-data/instance-id", tok)  # may use the last token of the bucket
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        for _ in range(5):
            get(imds, inst, "latest/meta-data/instance-id", tok)
    assert any(e["status"] == "dropped" for e in imds.log(instance_id=inst["instance_id"]))


def test_default_instance_at_root_and_reset(imds, imds_plain):
    status, _, tok = imds_call(imds_plain.url, "PUT", "/latest/api/token", {TTL_HEADER: "60"})
    assert status == 200
    status, _, iid = imds_call(imds_plain.url, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: tok})
    assert (status, iid) == (200, "i-0123456789abcdef0")
    extra = imds.add_instance()
    imds.reset()
    ids = [i["instance_id"] for i in imds.instances()]
    assert ids == ["i-0123456789abcdef0"] and extra["instance_id"] not in ids


def test_control_api_rejects_bad_input(imds, inst):
    with pytest.raises(FakeFailed, match="http_tokens"):
        imds.configure(inst["instance_id"], http_tokens="sometimes")
    with pytest.raises(FakeFailed, match="unknown IMDS setting"):
        imds.configure(inst["instance_id"], warp_speed=9)
    with pytest.raises(FakeFailed, match="404"):
        imds.expire_tokens("i-0000000000000dead")
    with pytest.raises(FakeFailed, match="already exists"):
        imds.add_instance(inst["instance_id"])


def test_a_bad_setting_changes_nothing(imds, inst):
    with pytest.raises(FakeFailed, match="latency"):
        imds.configure(inst["instance_id"], latency="soon", outage=True)
    settings = imds.instance(inst["instance_id"])["settings"]
    assert settings["latency"] == 0.0 and settings["outage"] is False


def test_start_from_a_config_file(start_imds_server):
    config = {
        "defaults": {"http_tokens": "optional", "rate_limit": None},
        "default_instance": False,
        "instances": [{"instance_id": "i-0aaaaaaaaaaaaaaa1", "availability_zone": "ap-south-1a", "at_root": True}],
    }
    server = start_imds_server(config=config)
    status, _, body = imds_call(server.url, "GET", "/latest/meta-data/placement/region")  # IMDSv1
    assert (status, body) == (200, "ap-south-1")
    status, _, body = imds_call(server.url, "GET", "/i-0aaaaaaaaaaaaaaa1/latest/meta-data/instance-id")
    assert (status, body) == (200, "i-0aaaaaaaaaaaaaaa1")


def test_a_fleet_in_one_call_gets_distinct_identities(imds):
    fleet = imds.add_instances([{"availability_zone": f"us-east-1{'abc'[i % 3]}", "settings": {"rate_limit": None}}
                                for i in range(300)])
    assert len({i["instance_id"] for i in fleet}) == 300
    assert len({i["local_ipv4"] for i in fleet}) == 300 and len({i["mac"] for i in fleet}) == 300
    last = fleet[-1]
    status, _, tok = imds_call(imds.endpoint(last["instance_id"]), "PUT", "latest/api/token", {TTL_HEADER: "60"})
    assert status == 200
    status, _, az = imds_call(imds.endpoint(last["instance_id"]), "GET", "latest/meta-data/placement/availability-zone",
                              {TOKEN_HEADER: tok})
    assert (status, az) == (200, last["availability_zone"])
    with pytest.raises(FakeFailed, match="list of instance objects"):
        imds.add_instances(["i-0abc"])
