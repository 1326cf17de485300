"""Dated metadata versions and the categories that exist only under conditions, without a server.

Sources (the `search` tool's copies):
- AWS, "Instance metadata categories", column "Version when category was released"
  (awsdocs/amazon-ec2-user-guide doc_source/instancedata-data-categories.md, and the current
  EC2 user guide page for autoscaling/ 2021-07-15, events/recommendations/ 2020-10-27,
  placement/availability-zone-id 2019-10-01);
- AWS, "Retrieve instance metadata", "Get the available versions of the instance metadata"
  (doc_source/instancedata-data-retrieval.md): what ``GET /`` answers;
- aws/amazon-ec2-metadata-mock pkg/config/defaults/aemm-metadata-default-values.json: the
  Elastic Inference association body and the aki-/ari- id shapes.
"""

from __future__ import annotations

import json

import pytest

from fakes.imds.model import Instance, identity_document
from fakes.imds.state import check_spot_only
from fakes.imds.tree import Listing, listing, metadata_tree
from fakes.imds.versions import LATEST, RELEASED, UNDATED, VERSIONS, at_version, released, version_root

# Verbatim from AWS's "Get the available versions of the instance metadata" example.
AWS_DOCUMENTED_VERSIONS = """1.0
2007-01-19
2007-03-01
2007-08-29
2007-10-10
2007-12-15
2008-02-01
2008-09-01
2009-04-04
2011-01-01
2011-05-01
2012-01-12
2014-02-25
2014-11-05
2015-10-20
2016-04-19
2016-06-30
2016-09-02
2018-03-28
2018-08-17
2018-09-24
2019-10-01
2020-10-27
2021-01-03
2021-03-23
latest"""
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootstormTestKeyNotARealOne bootstorm@test"


def everything(**extra) -> Instance:
    """An instance with every category that can exist set, so nothing is absent by condition."""
    inst = Instance(
        seq=3, role="web-role", public_ipv4="203.0.113.25", ipv6s=["2001:db8::25"], public_keys={"k": KEY},
        product_codes=["abc123xyz"], placement_group="pg", partition_number=2, host_id="h-0123456789abcdef0",
        kernel_id="aki-5c21674b", ramdisk_id="ari-01bb5768", ancestor_ami_ids=["ami-0abcdef1234567890"],
        elastic_gpus=["eg1.medium"], elastic_inference_accelerators=["eia1.medium"], instance_life_cycle="spot",
        tags={"Name": "web-1"}, **extra,
    )
    inst.settings.update({"spot_action": "terminate", "rebalance_recommended_at": 1_900_000_000,
                          "target_lifecycle_state": "InService", "instance_metadata_tags": True})
    return inst


def lookup(tree: dict, path: str):
    """The node at ``path`` ("*" takes the only entry there), or None."""
    node = tree
    for part in path.split("/"):
        if not isinstance(node, dict):
            return None
        if part == "*":
            (part,) = node
        if part not in node:
            return None
        node = node[part]
    return node


def builds_around(since: str) -> tuple[str | None, str]:
    """The last listed build without a category released in ``since``, and the first with it."""
    dated = [v for v in VERSIONS if v != LATEST]
    before = [v for v in dated if not released(since, v)]
    after = [v for v in VERSIONS if released(since, v)]
    return (before[-1] if before else None), after[0]


def test_the_version_list_is_the_one_aws_documents():
    assert "\n".join(VERSIONS) == AWS_DOCUMENTED_VERSIONS


def test_release_dates_order_1_0_first_and_latest_last():
    assert released("1.0", "1.0") and released("1.0", "2007-01-19") and not released("2007-01-19", "1.0")
    assert released("2021-07-15", LATEST) and not released("2021-07-15", "2021-03-23")
    # A release date that is no build of its own first shows in the next build listed at GET /.
    assert builds_around("2016-11-30") == ("2016-09-02", "2018-03-28")


@pytest.mark.parametrize("path, since", sorted(RELEASED.items()))
def test_each_category_is_absent_before_its_release_and_served_from_it_on(path, since):
    tree = metadata_tree(everything())
    assert lookup(tree, path) is not None, f"{path}: the fully populated instance should serve it"
    before, first = builds_around(since)
    assert lookup(at_version(tree, first), path) is not None, (path, first)
    if before is not None:
        assert lookup(at_version(tree, before), path) is None, (path, before)
        parent, _, leaf = path.rpartition("/")
        shown = at_version(tree, before) if not parent else lookup(at_version(tree, before), parent)
        if isinstance(shown, dict):  # and its directory does not list it
            assert leaf not in listing(shown).replace("/", "\n").split("\n")


def test_every_served_path_has_a_release_date_or_is_named_undated():
    def walk(node: dict, prefix: str = ""):
        for key, child in node.items():
            yield prefix + key
            if isinstance(child, dict):
                yield from walk(child, prefix + key + "/")

    inst = everything()
    for path in walk(metadata_tree(inst)):
        generic = path.replace(inst.mac, "*")
        parts = generic.split("/")
        dated = any("/".join(parts[:i]) in RELEASED for i in range(1, len(parts) + 1))
        assert dated or parts[0] in UNDATED, f"{path}: no release date; every version would serve it"


def test_2009_04_04_is_the_tree_cloud_init_falls_back_to():
    tree = at_version(metadata_tree(everything()), "2009-04-04")
    assert sorted(tree) == ["ami-id", "ami-launch-index", "ami-manifest-path", "ancestor-ami-ids",
                            "block-device-mapping", "hostname", "instance-action", "instance-id", "instance-type",
                            "kernel-id", "local-hostname", "local-ipv4", "placement", "product-codes", "profile",
                            "public-hostname", "public-ipv4", "public-keys", "ramdisk-id", "reservation-id",
                            "security-groups"]
    assert sorted(tree["placement"]) == ["availability-zone"]
    assert isinstance(tree["public-keys"], Listing) and listing(tree["public-keys"]) == "0=k"


def test_dated_nested_entries_are_cut_inside_kept_directories():
    inst = everything()
    nic = lookup(at_version(metadata_tree(inst), "2014-02-25"), f"network/interfaces/macs/{inst.mac}")
    assert "ipv6s" not in nic and "vpc-ipv4-cidr-blocks" not in nic and "network-card-index" not in nic
    assert nic["subnet-id"].startswith("subnet-")
    services = at_version(metadata_tree(inst), "2014-11-05")["services"]
    assert sorted(services) == ["domain"]  # partition arrives in 2015-10-20
    spot = at_version(metadata_tree(inst), "2016-09-02")["spot"]
    assert sorted(spot) == ["termination-time"]  # instance-action (2016-11-15) arrives in 2018-03-28


def test_latest_serves_the_whole_tree():
    tree = metadata_tree(everything())
    assert at_version(tree, LATEST) is tree


def test_version_root_lists_dynamic_from_2009_04_04_and_user_data_when_set():
    assert version_root("2008-09-01", True) == ["meta-data", "user-data"]
    assert version_root("2009-04-04", False) == ["dynamic", "meta-data"]
    assert version_root(LATEST, True) == ["dynamic", "meta-data", "user-data"]


def test_an_hvm_instance_has_no_kernel_ramdisk_ancestors_or_accelerators():
    tree = metadata_tree(Instance(seq=1))
    for absent in ("kernel-id", "ramdisk-id", "ancestor-ami-ids", "elastic-gpus", "elastic-inference", "ipv6"):
        assert absent not in tree, absent
    assert tree["profile"] == "default-hvm"
    doc = json.loads(identity_document(Instance(seq=1)))
    assert doc["kernelId"] is None and doc["ramdiskId"] is None


def test_a_paravirtual_instance_serves_its_kernel_and_ramdisk():
    inst = Instance(seq=1, kernel_id="aki-5c21674b", ramdisk_id="ari-01bb5768")
    tree = metadata_tree(inst)
    assert (tree["kernel-id"], tree["ramdisk-id"], tree["profile"]) == ("aki-5c21674b", "ari-01bb5768",
                                                                          "default-paravirtual")
    doc = json.loads(identity_document(inst))
    assert (doc["kernelId"], doc["ramdiskId"]) == ("aki-5c21674b", "ari-01bb5768")


def test_block_devices_beyond_ami_and_root_only_when_attached():
    assert sorted(metadata_tree(Instance(seq=1))["block-device-mapping"]) == ["ami", "root"]
    inst = Instance(seq=1, block_devices={"ebs1": "sdf", "ephemeral0": "sdb", "swap": "sdc"})
    mapping = metadata_tree(inst)["block-device-mapping"]
    assert listing(mapping) == "ami\nebs1\nephemeral0\nroot\nswap" and mapping["ephemeral0"] == "sdb"


def test_public_hostname_only_with_dns_hostnames_on():
    # AWS: public-hostname "is only returned if the enableDnsHostnames attribute is set to true".
    on = metadata_tree(Instance(seq=1, public_ipv4="203.0.113.9"))
    off_inst = Instance(seq=1, public_ipv4="203.0.113.9", dns_hostnames=False)
    off = metadata_tree(off_inst)
    assert on["public-hostname"] == "ec2-203-0-113-9.compute-1.amazonaws.com"
    assert "public-hostname" not in off and off["public-ipv4"] == "203.0.113.9"
    assert "public-hostname" not in off["network"]["interfaces"]["macs"][off_inst.mac]
    with pytest.raises(ValueError, match="dns_hostnames: expected true or false, got 'no'"):
        Instance(seq=1, dns_hostnames="no")


def test_an_ipv6_address_brings_its_subnet_and_vpc_blocks():
    inst = Instance(seq=1, ipv6s=["2001:db8:0:7::25", "2001:db8:0:7::26"])
    tree = metadata_tree(inst)
    nic = tree["network"]["interfaces"]["macs"][inst.mac]
    assert tree["ipv6"] == "2001:db8:0:7::25"  # AWS: the first IPv6 address of device 0
    assert nic["subnet-ipv6-cidr-blocks"] == "2001:db8:0:7::/64" and nic["vpc-ipv6-cidr-blocks"] == "2001:db8::/56"


def test_accelerators_are_listed_by_id_with_their_description():
    inst = Instance(seq=1, elastic_gpus=["eg1.large"], elastic_inference_accelerators=["eia2.medium"])
    tree = metadata_tree(inst)
    (gpu_id, body), = tree["elastic-gpus"]["associations"].items()
    assert gpu_id.startswith("egpu-") and len(gpu_id) == 5 + 32
    gpu = json.loads(body)
    assert gpu["elasticGpuId"] == gpu_id and gpu["elasticGpuType"] == "eg1.large"
    assert gpu["connectionConfig"]["ipv4Address"].startswith("10.")
    (eia_id, body), = tree["elastic-inference"]["associations"].items()
    assert eia_id.startswith("eia-") and len(eia_id) == 4 + 32
    assert json.loads(body) == {"version_2018_04_12": {"elastic-inference-accelerator-id": eia_id,
                                                       "elastic-inference-accelerator-type": "eia2.medium"}}
    assert listing(tree["elastic-gpus"]) == "associations/"


@pytest.mark.parametrize("spec, message", [
    ({"kernel_id": "aki-XYZ"}, "kernel_id: expected 'aki-' and 8 or 17 lowercase hex digits"),
    ({"kernel_id": "aki-5c21674b", "ramdisk_id": "ami-01bb5768"}, "ramdisk_id: expected 'ari-'"),
    ({"ramdisk_id": "ari-01bb5768"}, "ramdisk_id: a RAM disk boots with a paravirtual kernel; set kernel_id"),
    ({"ancestor_ami_ids": ["ami-1"]}, "ancestor_ami_ids: expected AMI ids"),
    ({"elastic_gpus": ["p3.2xlarge"]}, "elastic_gpus: expected Elastic Graphics types"),
    ({"elastic_inference_accelerators": ["eia9.huge"]}, "elastic_inference_accelerators: expected Elastic Inference"),
    ({"elastic_gpus": "eg1.medium"}, "elastic_gpus: expected a list of strings"),
    ({"block_devices": {"ebs": "sdf"}}, "block_devices: expected an object of ebsN, ephemeralN or swap"),
    ({"ipv6s": ["10.0.0.1"]}, "ipv6s: expected IPv6 addresses like '2001:db8::25', got '10.0.0.1'"),
])
def test_bad_conditional_fields_name_the_field_and_the_expected_form(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Instance(seq=1, **spec)


def test_spot_notices_and_rebalance_are_for_spot_instances_only():
    # AWS: the interruption notice is "present only if the Spot Instance has been marked for
    # hibernate, stop, or terminate"; rebalance recommendations signal a Spot Instance at risk.
    on_demand = Instance(seq=1)
    for name, value in (("spot_action", "terminate"), ("rebalance_recommended_at", 1_900_000_000)):
        with pytest.raises(ValueError, match=f"{name}: EC2 sends this to spot instances only; "
                                             f"{on_demand.instance_id} has instance_life_cycle 'on-demand'"):
            check_spot_only(on_demand, {name: value})
    check_spot_only(on_demand, {"spot_action": None})  # clearing is always fine
    check_spot_only(Instance(seq=2, instance_life_cycle="spot"), {"spot_action": "stop"})
    on_demand.settings.update({"spot_action": "terminate", "rebalance_recommended_at": 0})
    tree = metadata_tree(on_demand)  # even if set behind the state's back, the tree never shows it
    assert "spot" not in tree and "recommendations" not in tree["events"]
