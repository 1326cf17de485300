"""The ``meta-data/`` and ``dynamic/`` trees of one instance, shaped like EC2's.

A tree is nested dicts: a dict is a directory, a string a leaf, None a leaf the server renders
on demand (IAM info and credentials, the signed identity documents). A directory lists its
entries one per line, subdirectories with a trailing ``/``; `Listing` lets an entry show under
another name (EC2 lists key pair 0 as ``0=my-key``, with no slash, yet serves ``0/``).

Only what EC2 would serve is in the tree, so every listed entry answers 200: crawlers such as
cloud-init's EC2 datasource fetch each one and fail on a 404. Optional categories (public
IPv4 and IPv6, placement group, kernel and RAM disk of a paravirtual instance, ancestor AMIs,
Elastic GPUs and Elastic Inference accelerators, the spot notice of a spot instance,
rebalance, Auto Scaling state, tags) appear only when they apply, and answer 404 otherwise, as
on EC2. This is the ``latest`` tree; `fakes.imds.versions` cuts it down for dated versions.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fakes.imds.model import VPC_CIDR, Instance, derived, imds_json, iso_utc

__all__ = ["metadata_tree", "dynamic_tree", "Listing", "listing"]


class Listing(dict):
    """A directory whose entries are listed under other names (``labels``)."""

    labels: dict[str, str]

    def __init__(self, entries: dict, labels: dict[str, str]):
        super().__init__(entries)
        self.labels = labels


def listing(node: dict) -> str:
    labels = node.labels if isinstance(node, Listing) else {}
    lines = []
    for key in sorted(node):
        if key in labels:
            lines.append(labels[key])
        else:
            lines.append(key + "/" if isinstance(node[key], dict) else key)
    return "\n".join(lines)


def _ids(inst: Instance) -> dict[str, str]:
    return {
        "eni": "eni-" + derived(inst.seq, "eni").hex()[:17],
        "subnet": "subnet-" + derived(0, f"subnet:{inst.availability_zone}").hex()[:17],
        "vpc": "vpc-" + derived(0, "vpc").hex()[:17],
        "reservation": "r-" + derived(inst.seq, "reservation").hex()[:17],
    }


def _zone_id(inst: Instance) -> str:
    # "us-east-1a" -> "use1-az1": the shape of real zone ids (the real mapping is per account).
    area, direction, number = (inst.region.split("-") + ["", ""])[:3]
    return f"{area}{direction[:1]}{number}-az{ord(inst.availability_zone[-1]) - 96}"


def _subnet_cidr(inst: Instance) -> str:
    return str(ipaddress.ip_network(f"{inst.local_ipv4}/16", strict=False))


def _security_group_ids(inst: Instance) -> list[str]:
    return ["sg-" + derived(0, f"sg:{name}").hex()[:17] for name in inst.security_groups]


def _interface(inst: Instance, ids: dict[str, str]) -> dict[str, Any]:
    mac: dict[str, Any] = {
        "device-number": "0",
        "interface-id": ids["eni"],
        "local-hostname": inst.hostname,
        "local-ipv4s": inst.local_ipv4,
        "mac": inst.mac,
        "network-card-index": "0",
        "owner-id": inst.account_id,
        "security-group-ids": "\n".join(_security_group_ids(inst)),
        "security-groups": "\n".join(inst.security_groups),
        "subnet-id": ids["subnet"],
        "subnet-ipv4-cidr-block": _subnet_cidr(inst),
        "vpc-id": ids["vpc"],
        "vpc-ipv4-cidr-block": VPC_CIDR,
        "vpc-ipv4-cidr-blocks": VPC_CIDR,
    }
    if inst.public_ipv4:
        mac["public-ipv4s"] = inst.public_ipv4
        if inst.dns_hostnames:
            mac["public-hostname"] = inst.public_hostname
        mac["ipv4-associations"] = {inst.public_ipv4: inst.local_ipv4}
    if inst.ipv6s:
        mac["ipv6s"] = "\n".join(inst.ipv6s)
        # An IPv6 address comes from the subnet's /64, carved out of the VPC's /56 (EC2's sizes).
        first = inst.ipv6s[0]
        mac["subnet-ipv6-cidr-blocks"] = str(ipaddress.ip_network(f"{first}/64", strict=False))
        mac["vpc-ipv6-cidr-blocks"] = str(ipaddress.ip_network(f"{first}/56", strict=False))
    return mac


def _accelerators(inst: Instance) -> dict[str, Any]:
    """elastic-gpus/ and elastic-inference/, for what is attached. Elastic Inference bodies
    follow aws/amazon-ec2-metadata-mock's defaults (``version_2018_04_12``); Elastic GPU bodies
    carry the ``elasticGpu*`` names of EC2's DescribeElasticGpus and the ``connectionConfig``
    a Windows bootstrap reads the accelerator's address from."""
    out: dict[str, Any] = {}
    gpus = {}
    for i, gpu_type in enumerate(inst.elastic_gpus):
        gpu_id = "egpu-" + derived(inst.seq, f"egpu:{i}").hex()[:32]
        address = ipaddress.ip_network(_subnet_cidr(inst))[200 + i]  # the accelerator's ENI
        gpus[gpu_id] = imds_json({
            "version": "2016-11-30", "elasticGpuId": gpu_id, "elasticGpuType": gpu_type,
            "elasticGpuState": "ATTACHED", "connectionConfig": {"ipv4Address": str(address)},
        })
    if gpus:
        out["elastic-gpus"] = {"associations": gpus}
    accelerators = {}
    for i, eia_type in enumerate(inst.elastic_inference_accelerators):
        eia_id = "eia-" + derived(inst.seq, f"eia:{i}").hex()[:32]
        accelerators[eia_id] = imds_json({"version_2018_04_12": {
            "elastic-inference-accelerator-id": eia_id, "elastic-inference-accelerator-type": eia_type,
        }})
    if accelerators:
        out["elastic-inference"] = {"associations": accelerators}
    return out


def _events(inst: Instance) -> dict[str, Any]:
    settings = inst.settings
    events: dict[str, Any] = {"maintenance": {
        "history": imds_json(settings.maintenance_history) if settings.maintenance_history else "[]",
        "scheduled": imds_json(settings.maintenance_scheduled) if settings.maintenance_scheduled else "[]",
    }}
    if settings.rebalance_recommended_at is not None and inst.instance_life_cycle == "spot":
        notice = {"noticeTime": iso_utc(settings.rebalance_recommended_at)}
        events["recommendations"] = {"rebalance": imds_json(notice)}
    return events


def metadata_tree(inst: Instance) -> dict:
    """``/latest/meta-data/`` for ``inst`` (its identity and its current settings)."""
    ids = _ids(inst)
    settings = inst.settings
    placement: dict[str, Any] = {
        "availability-zone": inst.availability_zone,
        "availability-zone-id": _zone_id(inst),
        "region": inst.region,
    }
    if inst.placement_group:
        placement["group-name"] = inst.placement_group
        if inst.partition_number is not None:
            placement["partition-number"] = str(inst.partition_number)
    if inst.host_id:
        placement["host-id"] = inst.host_id
    tree: dict[str, Any] = {
        "ami-id": inst.ami_id,
        "ami-launch-index": str(inst.ami_launch_index),
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda", **inst.block_devices},
        "events": _events(inst),
        "hostname": inst.hostname,
        "identity-credentials": {"ec2": {
            "info": None,  # rendered by the server
            "security-credentials": {"ec2-instance": None},
        }},
        "instance-action": "none",
        "instance-id": inst.instance_id,
        "instance-life-cycle": inst.instance_life_cycle,
        "instance-type": inst.instance_type,
        "local-hostname": inst.hostname,
        "local-ipv4": inst.local_ipv4,
        "mac": inst.mac,
        "network": {"interfaces": {"macs": {inst.mac: _interface(inst, ids)}}},
        "placement": placement,
        # The virtualization type (EC2Rescue for Linux reads it: default-hvm|default-paravirtual).
        "profile": "default-paravirtual" if inst.kernel_id else "default-hvm",
        "reservation-id": ids["reservation"],
        "security-groups": "\n".join(inst.security_groups),
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if inst.public_ipv4:
        tree["public-ipv4"] = inst.public_ipv4
        if inst.dns_hostnames:
            tree["public-hostname"] = inst.public_hostname
    if inst.ipv6s:
        tree["ipv6"] = inst.ipv6s[0]  # the first address of device 0
    if inst.kernel_id:
        tree["kernel-id"] = inst.kernel_id
    if inst.ramdisk_id:
        tree["ramdisk-id"] = inst.ramdisk_id
    if inst.ancestor_ami_ids:
        tree["ancestor-ami-ids"] = "\n".join(inst.ancestor_ami_ids)
    tree.update(_accelerators(inst))
    if inst.public_keys:
        keys = {str(i): {"openssh-key": key} for i, key in enumerate(inst.public_keys.values())}
        labels = {str(i): f"{i}={name}" for i, name in enumerate(inst.public_keys)}
        tree["public-keys"] = Listing(keys, labels)
    if inst.product_codes:
        tree["product-codes"] = "\n".join(inst.product_codes)
    if inst.role:
        tree["iam"] = {
            "info": None,  # rendered by the server (LastUpdated changes with credentials)
            "security-credentials": {inst.role: None},
        }
    if settings.spot_action is not None and inst.instance_life_cycle == "spot":
        when = iso_utc(settings.spot_action_time)
        tree["spot"] = {"instance-action": imds_json({"action": settings.spot_action, "time": when})}
        if settings.spot_action == "terminate":
            tree["spot"]["termination-time"] = when
    if settings.target_lifecycle_state is not None:
        tree["autoscaling"] = {"target-lifecycle-state": settings.target_lifecycle_state}
    if settings.instance_metadata_tags:
        tree["tags"] = {"instance": {k: str(v) for k, v in inst.tags.items()}}
    return tree


def dynamic_tree() -> dict:
    """``/latest/dynamic/``: the signed identity documents (rendered by the server)."""
    return {
        "fws": {"instance-monitoring": "disabled"},
        "instance-identity": {"document": None, "pkcs7": None, "rsa2048": None, "signature": None},
    }
