"""One simulated EC2 instance as the metadata service sees it: its identity.

`Instance` holds what is fixed at launch (ids, addresses, network, keys, user-data); what
can change at run time lives in `fakes.imds.settings.Settings`. Fields left empty are derived
from the instance's sequence number, so the same fleet gets the same identities run after run.
`fakes.imds.tree` renders the ``meta-data/`` tree from both.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import ipaddress
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from fakes.imds.settings import MAX_TOKEN_TTL, Settings

__all__ = [
    "Settings",
    "Instance",
    "identity_document",
    "imds_json",
    "iso_utc",
    "derived",
    "valid_instance_id",
    "DEFAULT_INSTANCE_ID",
    "ACCOUNT_ID",
    "MAX_TOKEN_TTL",
    "MAX_USER_DATA",
]

ACCOUNT_ID = "123456789012"  # moto's default account, so role ARNs resolve there
DEFAULT_INSTANCE_ID = "i-0123456789abcdef0"
MAX_USER_DATA = 16384  # EC2 refuses user-data over 16 KB (before base64)
# EC2 instance ids: "i-" and 8 (before 2016) or 17 lowercase hex digits.
_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
# Image ids: a prefix and 8 (older) or 17 lowercase hex digits, as instance ids.
_IMAGE_ID = {prefix: re.compile(rf"^{prefix}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})$") for prefix in ("ami", "aki", "ari")}
# Accelerator types: Elastic Graphics (eg1.*) and Elastic Inference (eia1.*, eia2.*).
_ELASTIC_GPU_TYPE = re.compile(r"^eg1\.(?:medium|large|xlarge|2xlarge)$")
_INFERENCE_TYPE = re.compile(r"^eia[12]\.(?:medium|large|xlarge)$")
_BLOCK_DEVICE = re.compile(r"^(?:ebs[0-9]+|ephemeral[0-9]+|swap)$")
VPC_CIDR = "10.0.0.0/8"  # derived private addresses are 10.x.y.z, so the VPC is 10/8


def iso_utc(epoch: float) -> str:
    """The timestamp format IMDS uses everywhere: ``2024-05-01T12:00:00Z`` (no fraction)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def imds_json(obj: Any) -> str:
    # Real IMDS pretty-prints with two-space indent and " : " between key and value.
    return json.dumps(obj, indent=2, separators=(",", " : "))


def derived(seq: int, seed: str) -> bytes:
    return hashlib.sha256(f"{seed}:{seq}".encode()).digest()


def valid_instance_id(instance_id: object) -> bool:
    return isinstance(instance_id, str) and bool(_INSTANCE_ID.match(instance_id))


def _check_ipv4(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        ipaddress.IPv4Address(value)
    except (ipaddress.AddressValueError, ValueError):
        raise ValueError(f"{name}: expected an IPv4 address like '203.0.113.10' or null, got {value!r}") from None


@dataclass
class Instance:
    """The identity of one instance, fixed at launch."""

    seq: int
    instance_id: str = ""
    availability_zone: str = "us-east-1a"
    instance_type: str = "t3.micro"
    ami_id: str = "ami-0abcdef1234567890"
    architecture: str = "x86_64"
    local_ipv4: str = ""
    mac: str = ""
    # A public address (and the hostname EC2 derives from it); null: private subnet, 404.
    public_ipv4: str | None = None
    public_hostname: str | None = None
    # The VPC's enableDnsHostnames: EC2 serves public-hostname only when it is true (a default
    # VPC's setting); false: 404 for public-hostname, top level and per interface.
    dns_hostnames: bool = True
    ipv6s: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=lambda: ["default"])
    # Key pairs given at launch, name -> OpenSSH public key, in index order (public-keys/0=...).
    public_keys: dict[str, str] = field(default_factory=dict)
    product_codes: list[str] = field(default_factory=list)
    instance_life_cycle: str = "on-demand"  # "on-demand", "spot" or "scheduled"
    placement_group: str | None = None
    partition_number: int | None = None
    host_id: str | None = None  # a Dedicated Host
    ami_launch_index: int = 0
    # A paravirtual (PV) instance boots the kernel image (AKI) and RAM disk (ARI) it was
    # launched with; HVM instances (the default, and all current types) have neither, and EC2
    # answers 404 for kernel-id and ramdisk-id.
    kernel_id: str | None = None
    ramdisk_id: str | None = None
    # block-device-mapping/ entries besides ami and root: EBS volumes present at launch
    # (ebsN), instance store volumes (ephemeralN) and swap, name -> device ("ephemeral0": "sdb").
    block_devices: dict[str, str] = field(default_factory=dict)
    # Only when the AMI manifest named ancestor AMIs (images rebundled from other images).
    ancestor_ami_ids: list[str] = field(default_factory=list)
    # Accelerators attached at launch, by type ("eg1.medium", "eia1.medium"): each gets an
    # id and its entry under elastic-gpus/ or elastic-inference/; none attached: 404.
    elastic_gpus: list[str] = field(default_factory=list)
    elastic_inference_accelerators: list[str] = field(default_factory=list)
    role: str | None = None
    # User-data as text (`user_data`) or any bytes (`user_data_base64`; gzip is fine).
    user_data: str | None = None
    user_data_base64: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    account_id: str = ACCOUNT_ID
    launched_at: float = field(default_factory=time.time)
    # Serve this instance at the root of its own socket (fakes.imds.listeners).
    listener: bool = False
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        digest = derived(self.seq, "instance")
        if not self.instance_id:
            self.instance_id = "i-0" + digest.hex()[:16]
        if not valid_instance_id(self.instance_id):
            raise ValueError("instance_id: expected 'i-' followed by 8 or 17 lowercase hex digits "
                             f"(like 'i-0123456789abcdef0'), got {self.instance_id!r}")
        if not self.local_ipv4:
            block, host = divmod(self.seq, 254)  # hosts .1 to .254: unique for 16 M instances
            self.local_ipv4 = f"10.{(block >> 8) & 255}.{block & 255}.{host + 1}"
        if not self.mac:
            self.mac = "0e:" + ":".join(f"{b:02x}" for b in digest[8:13])
        if not _MAC.match(self.mac):
            raise ValueError(f"mac: expected six lowercase hex pairs like '0e:49:61:0f:c3:11', got {self.mac!r}")
        if len(self.availability_zone) < 2 or not self.availability_zone[-1].isalpha():
            raise ValueError(f"availability_zone: expected like 'us-east-1a', got {self.availability_zone!r}")
        _check_ipv4("local_ipv4", self.local_ipv4)
        _check_ipv4("public_ipv4", self.public_ipv4)
        if self.public_ipv4 and not self.public_hostname:
            self.public_hostname = self._public_hostname()
        if self.instance_life_cycle not in ("on-demand", "spot", "scheduled"):
            raise ValueError("instance_life_cycle: expected 'on-demand', 'spot' or 'scheduled', "
                             f"got {self.instance_life_cycle!r}")
        if self.architecture not in ("x86_64", "arm64", "i386"):
            raise ValueError(f"architecture: expected 'x86_64', 'arm64' or 'i386', got {self.architecture!r}")
        for name in ("security_groups", "product_codes", "ipv6s", "ancestor_ami_ids", "elastic_gpus",
                     "elastic_inference_accelerators"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{name}: expected a list of strings, got {value!r}")
        if not self.security_groups:
            raise ValueError("security_groups: an instance is in at least one security group, got []")
        for name, mapping in (("public_keys", self.public_keys), ("tags", self.tags)):
            if not isinstance(mapping, dict) or not all(isinstance(k, str) and k for k in mapping):
                raise ValueError(f"{name}: expected an object of name -> value, got {mapping!r}")
        if self.partition_number is not None and (
                isinstance(self.partition_number, bool) or not isinstance(self.partition_number, int)
                or not 1 <= self.partition_number <= 7):
            raise ValueError(f"partition_number: expected 1..7 or null, got {self.partition_number!r}")
        if self.partition_number is not None and not self.placement_group:
            raise ValueError("partition_number: needs placement_group (a partition placement group)")
        if isinstance(self.ami_launch_index, bool) or not isinstance(self.ami_launch_index, int) \
                or self.ami_launch_index < 0:
            raise ValueError(f"ami_launch_index: expected a whole number >= 0, got {self.ami_launch_index!r}")
        self._check_images_and_accelerators()
        if not isinstance(self.dns_hostnames, bool):
            raise ValueError(f"dns_hostnames: expected true or false, got {self.dns_hostnames!r}")
        if not isinstance(self.listener, bool):
            raise ValueError(f"listener: expected true or false, got {self.listener!r}")
        self._check_user_data()

    def _check_images_and_accelerators(self) -> None:
        for address in self.ipv6s:
            try:
                ipaddress.IPv6Address(address)
            except ValueError:
                raise ValueError(f"ipv6s: expected IPv6 addresses like '2001:db8::25', got {address!r}") from None
        for name, prefix, example in (("kernel_id", "aki", "aki-5c21674b"), ("ramdisk_id", "ari", "ari-01bb5768")):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and _IMAGE_ID[prefix].match(value)):
                raise ValueError(f"{name}: expected '{prefix}-' and 8 or 17 lowercase hex digits "
                                 f"(like '{example}') or null, got {value!r}")
        if not isinstance(self.block_devices, dict) or not all(
                isinstance(k, str) and _BLOCK_DEVICE.match(k) and isinstance(v, str) and v
                for k, v in self.block_devices.items()):
            raise ValueError("block_devices: expected an object of ebsN, ephemeralN or swap -> device name "
                             f"(like {{'ephemeral0': 'sdb'}}), got {self.block_devices!r}")
        if self.ramdisk_id is not None and self.kernel_id is None:
            raise ValueError("ramdisk_id: a RAM disk boots with a paravirtual kernel; set kernel_id too")
        for name, pattern, expected in (
                ("ancestor_ami_ids", _IMAGE_ID["ami"], "AMI ids like 'ami-0abcdef1234567890'"),
                ("elastic_gpus", _ELASTIC_GPU_TYPE, "Elastic Graphics types eg1.medium|large|xlarge|2xlarge"),
                ("elastic_inference_accelerators", _INFERENCE_TYPE,
                 "Elastic Inference types eia1|eia2 .medium|large|xlarge")):
            bad = [v for v in getattr(self, name) if not pattern.match(v)]
            if bad:
                raise ValueError(f"{name}: expected {expected}, got {bad!r}")

    def _check_user_data(self) -> None:
        if self.user_data is not None and self.user_data_base64 is not None:
            raise ValueError("user_data, user_data_base64: give one of them, not both")
        if self.user_data is not None and not isinstance(self.user_data, str):
            raise ValueError(f"user_data: expected text (use user_data_base64 for bytes), got {self.user_data!r}")
        raw = self.user_data_bytes
        if raw is not None and len(raw) > MAX_USER_DATA:
            raise ValueError(f"user_data: EC2 allows at most {MAX_USER_DATA} bytes, got {len(raw)}")

    @property
    def user_data_bytes(self) -> bytes | None:
        if self.user_data is not None:
            return self.user_data.encode()
        if self.user_data_base64 is None:
            return None
        try:
            return base64.b64decode(self.user_data_base64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ValueError(f"user_data_base64: expected base64, got {self.user_data_base64!r:.60}") from None

    def _public_hostname(self) -> str:
        ip = self.public_ipv4.replace(".", "-")
        if self.region == "us-east-1":
            return f"ec2-{ip}.compute-1.amazonaws.com"
        return f"ec2-{ip}.{self.region}.compute.amazonaws.com"

    @property
    def region(self) -> str:
        return self.availability_zone[:-1]

    @property
    def hostname(self) -> str:
        ip = self.local_ipv4.replace(".", "-")
        domain = "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"
        return f"ip-{ip}.{domain}"

    @property
    def instance_profile_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:instance-profile/{self.role}"

    @property
    def instance_profile_id(self) -> str:
        return "AIPA" + derived(self.seq, f"profile:{self.role}").hex()[:17].upper()

    def public(self) -> dict:
        """The control API's view (JSON-able)."""
        out = dataclasses.asdict(self)
        out["settings"] = dataclasses.asdict(self.settings)
        out["region"] = self.region
        out["hostname"] = self.hostname
        return out


def identity_document(inst: Instance) -> str:
    return imds_json(
        {
            "accountId": inst.account_id,
            "architecture": inst.architecture,
            "availabilityZone": inst.availability_zone,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": list(inst.product_codes) or None,
            "imageId": inst.ami_id,
            "instanceId": inst.instance_id,
            "instanceType": inst.instance_type,
            "kernelId": inst.kernel_id,
            "pendingTime": iso_utc(inst.launched_at),
            "privateIp": inst.local_ipv4,
            "ramdiskId": inst.ramdisk_id,
            "region": inst.region,
            "version": "2017-09-30",
        }
    )
