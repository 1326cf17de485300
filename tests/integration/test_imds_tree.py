"""The category tree a real instance serves, compared with AWS's "Instance metadata categories"
page (docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html) and the
paths aws/amazon-ec2-metadata-mock serves (pkg/config/defaults/aemm-metadata-default-values.json)."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import re

import pytest

from sim.errors import FakeFailed
from tests.integration._imds_helpers import TOKEN_HEADER, TTL_HEADER, imds_call

pytestmark = pytest.mark.integration
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstormTestKeyNotARealOne bootstorm@test"


@pytest.fixture
def full(imds):
    """An instance with everything optional set: public address, key pair, placement group."""
    return imds.add_instance(
        role="web-role", availability_zone="eu-west-1b", public_ipv4="203.0.113.25",
        public_keys={"deploy-key": KEY}, security_groups=["web", "ssh"], product_codes=["abc123xyz"],
        placement_group="pg-1", partition_number=3, host_id="h-0123456789abcdef0", ipv6s=["2001:db8::25"],
        listener=True, settings={"rate_limit": None},
    )


def fetch(imds, inst, path: str, tok: str | None = None) -> tuple[int, str]:
    url = imds.listener_url(inst["instance_id"])
    if tok is None:
        status, _, tok = imds_call(url, "PUT", "/latest/api/token", {TTL_HEADER: "300"})
        assert status == 200
    status, _, body = imds_call(url, "GET", path, {TOKEN_HEADER: tok})
    return status, body


def walk(imds, inst, tok: str, path: str, seen: dict) -> None:
    """Fetch every entry of every listing, as cloud-init's crawler does."""
    status, body = fetch(imds, inst, path, tok)
    assert status == 200, path
    if not path.endswith("/"):
        seen[path] = body
        return
    for line in body.split("\n"):
        assert line and line == line.strip(), (path, body)
        if "=" in line and path.endswith("public-keys/"):  # "0=name": the key is under 0/
            walk(imds, inst, tok, path + line.split("=", 1)[0] + "/", seen)
        else:
            walk(imds, inst, tok, path + line, seen)


def test_every_listed_entry_answers_and_the_categories_are_ec2s(imds, full):
    tok = imds_call(imds.listener_url(full["instance_id"]), "PUT", "/latest/api/token", {TTL_HEADER: "300"})[2]
    seen: dict[str, str] = {}
    walk(imds, full, tok, "/latest/meta-data/", seen)
    paths = {p.removeprefix("/latest/meta-data/") for p in seen}
    mac = full["mac"]
    expected = {
        "ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/ami", "block-device-mapping/root",
        "events/maintenance/history", "events/maintenance/scheduled", "hostname", "iam/info",
        "iam/security-credentials/web-role", "identity-credentials/ec2/info",
        "identity-credentials/ec2/security-credentials/ec2-instance", "instance-action", "instance-id",
        "instance-life-cycle", "instance-type", "local-hostname", "local-ipv4", "mac",
        "placement/availability-zone", "placement/availability-zone-id", "placement/region",
        "placement/group-name", "placement/partition-number", "placement/host-id", "product-codes",
        "public-hostname", "public-ipv4", "public-keys/0/openssh-key", "reservation-id", "security-groups",
        "services/domain", "services/partition",
    } | {f"network/interfaces/macs/{mac}/{leaf}" for leaf in (
        "device-number", "interface-id", f"ipv4-associations/{full['public_ipv4']}", "ipv6s", "local-hostname",
        "local-ipv4s", "mac", "network-card-index", "owner-id", "public-hostname", "public-ipv4s",
        "security-groups", "security-group-ids", "subnet-id", "subnet-ipv4-cidr-block", "vpc-id",
        "vpc-ipv4-cidr-block", "vpc-ipv4-cidr-blocks")}
    assert expected <= paths, sorted(expected - paths)
    m = f"/latest/meta-data/network/interfaces/macs/{mac}/"
    assert seen[m + "security-groups"] == "web\nssh" == seen["/latest/meta-data/security-groups"]
    assert all(re.fullmatch(r"sg-[0-9a-f]{17}", g) for g in seen[m + "security-group-ids"].split("\n"))
    assert seen[m + f"ipv4-associations/{full['public_ipv4']}"] == full["local_ipv4"]
    assert seen["/latest/meta-data/public-hostname"] == "ec2-203-0-113-25.eu-west-1.compute.amazonaws.com"
    assert seen["/latest/meta-data/placement/partition-number"] == "3"
    assert json.loads(seen["/latest/meta-data/events/maintenance/scheduled"]) == []
    assert json.loads(seen["/latest/meta-data/identity-credentials/ec2/info"])["AccountId"] == full["account_id"]


def test_listings_end_directories_with_a_slash_as_ec2(imds, full):
    status, top = fetch(imds, full, "/latest/meta-data/")
    lines = top.split("\n")
    for d in ("block-device-mapping/", "events/", "iam/", "identity-credentials/", "network/", "placement/",
              "public-keys/", "services/"):
        assert d in lines
    for leaf in ("ami-id", "instance-id", "mac", "public-ipv4", "security-groups"):
        assert leaf in lines
    assert fetch(imds, full, "/latest/meta-data/public-keys/")[1] == "0=deploy-key"
    assert fetch(imds, full, "/latest/meta-data/public-keys/0/")[1] == "openssh-key"
    assert fetch(imds, full, "/latest/meta-data/public-keys/0/openssh-key")[1] == KEY
    assert fetch(imds, full, "/latest/meta-data/network/interfaces/macs/")[1] == full["mac"] + "/"
    assert fetch(imds, full, "/latest/dynamic/")[1] == "fws/\ninstance-identity/"
    assert fetch(imds, full, "/latest/dynamic/instance-identity/")[1] == "document\npkcs7\nrsa2048\nsignature"
    assert fetch(imds, full, "/latest/dynamic/fws/instance-monitoring")[1] == "disabled"


def test_a_private_subnet_instance_has_no_public_address_keys_or_events(imds):
    bare = imds.add_instance(listener=True, settings={"rate_limit": None})
    listing = fetch(imds, bare, "/latest/meta-data/")[1].split("\n")
    for absent in ("public-ipv4", "public-hostname", "public-keys/", "spot/", "autoscaling/", "product-codes",
                   "tags/"):
        assert absent not in listing
        assert fetch(imds, bare, "/latest/meta-data/" + absent)[0] == 404, absent
    mac = f"/latest/meta-data/network/interfaces/macs/{bare['mac']}/"
    assert fetch(imds, bare, mac + "public-ipv4s")[0] == 404
    assert "ipv4-associations/" not in fetch(imds, bare, mac)[1].split("\n")
    assert fetch(imds, bare, "/latest/meta-data/events/")[1] == "maintenance/"
    assert fetch(imds, bare, "/latest/meta-data/events/recommendations/rebalance")[0] == 404


def test_spot_interruption_rebalance_and_lifecycle_appear_when_set(imds):
    inst = imds.add_instance(instance_life_cycle="spot", listener=True, settings={"rate_limit": None})
    iid = inst["instance_id"]
    assert fetch(imds, inst, "/latest/meta-data/spot/instance-action")[0] == 404
    assert fetch(imds, inst, "/latest/meta-data/spot/termination-time")[0] == 404
    assert fetch(imds, inst, "/latest/meta-data/instance-life-cycle")[1] == "spot"
    imds.interrupt_spot(iid, "terminate", at=1_900_000_000)
    status, body = fetch(imds, inst, "/latest/meta-data/spot/instance-action")
    assert status == 200 and json.loads(body) == {"action": "terminate", "time": "2030-03-17T17:46:40Z"}
    assert fetch(imds, inst, "/latest/meta-data/spot/termination-time") == (200, "2030-03-17T17:46:40Z")
    imds.interrupt_spot(iid, "stop")  # no time: EC2's two-minute notice; no termination-time for stop
    action = json.loads(fetch(imds, inst, "/latest/meta-data/spot/instance-action")[1])
    assert action["action"] == "stop" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", action["time"])
    assert fetch(imds, inst, "/latest/meta-data/spot/termination-time")[0] == 404
    imds.configure(iid, rebalance_recommended_at=1_900_000_000, target_lifecycle_state="Terminated")
    assert json.loads(fetch(imds, inst, "/latest/meta-data/events/recommendations/rebalance")[1]) == {
        "noticeTime": "2030-03-17T17:46:40Z"}
    assert fetch(imds, inst, "/latest/meta-data/autoscaling/target-lifecycle-state") == (200, "Terminated")
    with pytest.raises(FakeFailed, match="spot_action: expected one of"):
        imds.interrupt_spot(iid, "explode")


def test_user_data_is_octet_stream_and_may_be_binary_or_gzip(imds):
    script = b"#!/bin/sh\necho hello\n"
    packed = gzip.compress(script)
    inst = imds.add_instance(user_data=packed, listener=True, settings={"rate_limit": None})
    url = imds.listener_url(inst["instance_id"])
    tok = imds_call(url, "PUT", "/latest/api/token", {TTL_HEADER: "60"})[2]
    conn = http.client.HTTPConnection("127.0.0.1", inst["listener_port"], timeout=30)
    conn.request("GET", "/latest/user-data", headers={TOKEN_HEADER: tok})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/octet-stream"
    assert gzip.decompress(body) == script
    again = imds.add_instance(user_data_base64=base64.b64encode(b"\x00\xff\x10").decode(), settings={"rate_limit": None})
    assert again["user_data_base64"] == "AP8Q"
    with pytest.raises(FakeFailed, match="at most 16384 bytes"):
        imds.add_instance(user_data="x" * 16385)
    with pytest.raises(FakeFailed, match="user_data_base64: expected base64"):
        imds.add_instance(user_data_base64="not base64!")


def test_version_listing_and_unknown_versions(imds, full):
    status, versions = fetch(imds, full, "/")
    lines = versions.split("\n")
    assert status == 200 and lines[0] == "1.0" and lines[-1] == "latest"
    # cloud-init's DataSourceEc2 probes these versions (extended_metadata_versions, minimum).
    assert {"2009-04-04", "2016-09-02", "2018-09-24", "2021-03-23"} <= set(lines)
    assert lines[:-1] == sorted(lines[:-1])
    for version in ("2009-04-04", "2021-03-23", "latest"):
        assert fetch(imds, full, f"/{version}/meta-data/instance-id") == (200, full["instance_id"])
    for bogus in ("2020-01-01", "2.0", "v1", "LATEST"):
        assert fetch(imds, full, f"/{bogus}/meta-data/instance-id")[0] == 404, bogus
    # ec2-metadata (amazon-ec2-utils) asks for "latest//meta-data/reservation-id"; EC2 answers it.
    assert fetch(imds, full, "/latest//meta-data/reservation-id")[0] == 200


@pytest.mark.parametrize("bad", ["i-0abc", "i-0EXAMPLE000000001", "i-0123456789abcdef01", "x-01234567", "i-"])
def test_malformed_instance_ids_are_400_with_a_clear_message(imds, bad):
    with pytest.raises(FakeFailed, match=r"HTTP 400.*instance_id: expected 'i-' followed by 8 or 17 lowercase hex"):
        imds.add_instance(bad)
    with pytest.raises(FakeFailed, match=r"HTTP 400.*8 or 17 lowercase hex"):
        imds.instance(bad)
    with pytest.raises(FakeFailed, match=r"HTTP 400.*8 or 17 lowercase hex"):
        imds.configure(bad, outage=True)


def test_eight_digit_ids_are_valid_and_unknown_ids_404(imds):
    old = imds.add_instance("i-0badf00d", settings={"rate_limit": None})
    assert old["instance_id"] == "i-0badf00d"
    with pytest.raises(FakeFailed, match="HTTP 404"):
        imds.instance("i-00000000000000d1e")


@pytest.mark.parametrize("spec, message", [
    ({"public_ipv4": "300.1.2.3"}, "public_ipv4: expected an IPv4 address"),
    ({"partition_number": 2}, "partition_number: needs placement_group"),
    ({"security_groups": []}, "security_groups: an instance is in at least one"),
    ({"instance_life_cycle": "reserved"}, "instance_life_cycle: expected"),
    ({"settings": {"hops": 0}}, "settings: hops: expected a whole number of hops 1..64"),
])
def test_bad_instance_specs_are_400(imds, spec, message):
    with pytest.raises(FakeFailed, match=f"HTTP 400.*{re.escape(message)}"):
        imds.add_instance(**spec)
