"""Dated metadata versions and conditional categories, against the real server process.

What each build serves follows AWS's "Instance metadata categories" table (its "Version when
category was released" column, awsdocs/amazon-ec2-user-guide
doc_source/instancedata-data-categories.md); ``GET /`` follows the "Get the available versions
of the instance metadata" example, and a token PUT on a dated path answers 403 as the
"Considerations" of doc_source/instancedata-data-retrieval.md say it does.
"""

from __future__ import annotations

import json

import pytest

from sim.errors import FakeFailed
from tests.integration._imds_helpers import TOKEN_HEADER, TTL_HEADER, imds_call, token

pytestmark = pytest.mark.integration
DOCUMENTED_VERSIONS = [
    "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01", "2008-09-01",
    "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25", "2014-11-05", "2015-10-20",
    "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01",
    "2020-10-27", "2021-01-03", "2021-03-23", "latest",
]


@pytest.fixture
def inst(imds):
    """A spot instance with a role, tags in metadata, a notice and an Auto Scaling state set."""
    added = imds.add_instance(role="web-role", instance_life_cycle="spot", ipv6s=["2001:db8::7"],
                              user_data="#!/bin/sh\n", tags={"Name": "web-1"}, listener=True,
                              settings={"rate_limit": None, "instance_metadata_tags": True,
                                        "target_lifecycle_state": "InService"})
    imds.interrupt_spot(added["instance_id"], "terminate", at=1_900_000_000)
    return added


def get(imds, inst, path: str) -> tuple[int, str]:
    url = imds.listener_url(inst["instance_id"])
    status, _, body = imds_call(url, "GET", path, {TOKEN_HEADER: token(url)})
    return status, body


def walk(imds, inst, path: str, seen: dict[str, str]) -> None:
    """Fetch every entry of every listing below ``path``, as cloud-init's crawler does."""
    status, body = get(imds, inst, path)
    assert status == 200, path
    if not path.endswith("/"):
        seen[path] = body
        return
    for line in body.split("\n"):
        walk(imds, inst, path + (line.split("=", 1)[0] + "/" if "=" in line else line), seen)


def test_get_root_lists_the_versions_aws_documents(imds, inst):
    assert get(imds, inst, "/") == (200, "\n".join(DOCUMENTED_VERSIONS))
    assert get(imds, inst, "/2024-04-11/meta-data/instance-id")[0] == 404  # never an EC2 build


def test_a_version_before_2009_04_04_has_no_dynamic_data(imds, inst):
    assert get(imds, inst, "/2008-09-01/") == (200, "meta-data\nuser-data")
    assert get(imds, inst, "/2008-09-01/dynamic/instance-identity/document")[0] == 404
    assert get(imds, inst, "/2009-04-04/") == (200, "dynamic\nmeta-data\nuser-data")
    doc = json.loads(get(imds, inst, "/2009-04-04/dynamic/instance-identity/document")[1])
    assert doc["instanceId"] == inst["instance_id"]


def test_each_build_lists_and_serves_only_the_categories_released_by_then(imds, inst):
    top = {v: get(imds, inst, f"/{v}/meta-data/")[1].split("\n") for v in ("1.0", "2009-04-04", "2012-01-12",
                                                                          "2021-03-23", "latest")}
    assert top["1.0"] == ["ami-id", "ami-launch-index", "ami-manifest-path", "hostname", "instance-id",
                          "local-ipv4", "profile", "reservation-id", "security-groups"]
    assert "iam/" not in top["2009-04-04"] and "iam/" in top["2012-01-12"]  # iam: 2012-01-12
    assert "mac" not in top["2009-04-04"] and "network/" not in top["2009-04-04"]  # 2011-01-01
    assert "tags/" in top["2021-03-23"] and "autoscaling/" not in top["2021-03-23"]
    assert "autoscaling/" in top["latest"] and "ipv6" in top["latest"]
    assert get(imds, inst, "/2009-04-04/meta-data/iam/info")[0] == 404
    assert get(imds, inst, "/2012-01-12/meta-data/iam/security-credentials/")[1] == "web-role"
    assert get(imds, inst, "/2021-03-23/meta-data/autoscaling/target-lifecycle-state")[0] == 404
    assert get(imds, inst, "/latest/meta-data/autoscaling/target-lifecycle-state") == (200, "InService")
    # spot/termination-time came in 2014-11-05, spot/instance-action in 2016-11-15.
    assert get(imds, inst, "/2016-09-02/meta-data/spot/") == (200, "termination-time")
    assert get(imds, inst, "/2018-03-28/meta-data/spot/") == (200, "instance-action\ntermination-time")
    assert get(imds, inst, "/2014-11-05/meta-data/services/") == (200, "domain")  # partition: 2015-10-20


@pytest.mark.parametrize("version", ["2009-04-04", "2016-09-02", "2021-03-23"])
def test_every_entry_a_dated_build_lists_answers(imds, inst, version):
    seen: dict[str, str] = {}
    walk(imds, inst, f"/{version}/meta-data/", seen)
    assert seen[f"/{version}/meta-data/instance-id"] == inst["instance_id"]
    assert not any("/autoscaling/" in path for path in seen)


def test_a_token_put_on_a_dated_path_is_403(imds, inst):
    url = imds.listener_url(inst["instance_id"])
    for version in ("2021-03-23", "1.0"):
        assert imds_call(url, "PUT", f"/{version}/api/token", {TTL_HEADER: "60"})[0] == 403, version
    assert imds_call(url, "PUT", "/latest/api/token", {TTL_HEADER: "60"})[0] == 200


def test_kernel_ramdisk_and_accelerators_only_when_launched_with_them(imds):
    hvm = imds.add_instance(listener=True, settings={"rate_limit": None})
    for path in ("kernel-id", "ramdisk-id", "ancestor-ami-ids", "elastic-gpus/", "elastic-inference/"):
        assert get(imds, hvm, "/latest/meta-data/" + path)[0] == 404, path
    pv = imds.add_instance(kernel_id="aki-5c21674b", ramdisk_id="ari-01bb5768", elastic_gpus=["eg1.medium"],
                           elastic_inference_accelerators=["eia1.medium"], listener=True,
                           settings={"rate_limit": None})
    assert get(imds, pv, "/latest/meta-data/kernel-id") == (200, "aki-5c21674b")
    assert get(imds, pv, "/2008-02-01/meta-data/kernel-id") == (200, "aki-5c21674b")
    assert get(imds, pv, "/2008-01-01/meta-data/kernel-id")[0] == 404  # not a build
    assert get(imds, pv, "/latest/meta-data/profile") == (200, "default-paravirtual")
    gpu_id = get(imds, pv, "/latest/meta-data/elastic-gpus/associations/")[1]
    assert json.loads(get(imds, pv, f"/latest/meta-data/elastic-gpus/associations/{gpu_id}")[1])[
        "elasticGpuType"] == "eg1.medium"
    assert get(imds, pv, f"/2016-09-02/meta-data/elastic-gpus/associations/{gpu_id}")[0] == 404  # 2016-11-30
    eia_id = get(imds, pv, "/latest/meta-data/elastic-inference/associations/")[1]
    assert eia_id.startswith("eia-")
    with pytest.raises(FakeFailed, match="HTTP 400.*ramdisk_id: a RAM disk boots with a paravirtual kernel"):
        imds.add_instance(ramdisk_id="ari-01bb5768")


def test_spot_notices_go_to_spot_instances_only(imds):
    on_demand = imds.add_instance(listener=True, settings={"rate_limit": None})
    with pytest.raises(FakeFailed, match=r"HTTP 400.*spot_action: EC2 sends this to spot instances only"):
        imds.interrupt_spot(on_demand["instance_id"], "terminate")
    with pytest.raises(FakeFailed, match=r"HTTP 400.*rebalance_recommended_at: EC2 sends this to spot"):
        imds.configure(on_demand["instance_id"], rebalance_recommended_at=1_900_000_000)
    with pytest.raises(FakeFailed, match=r"HTTP 400.*a spot event is posted to one instance"):
        imds.configure(None, spot_action="stop")
    with pytest.raises(FakeFailed, match=r"HTTP 400.*settings: spot_action: EC2 sends this to spot"):
        imds.add_instance(settings={"spot_action": "terminate"})
    assert get(imds, on_demand, "/latest/meta-data/spot/instance-action")[0] == 404
    assert imds.instance(on_demand["instance_id"])["settings"]["spot_action"] is None
