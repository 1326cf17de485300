"""One simulated EC2 instance as the metadata service sees it: identity, options, metadata tree.

`Settings` mirrors the EC2 instance metadata options (``http_tokens``, ``http_endpoint``,
``instance_metadata_tags``) plus the knobs a chaos run turns (request limit, outage, latency,
credential lifetime). `Instance` holds the identity; `metadata_tree()` renders what
``/latest/meta-data/`` answers, as nested dicts (a dict is a directory, a string a leaf).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Settings",
    "Instance",
    "metadata_tree",
    "identity_document",
    "imds_json",
    "iso_utc",
    "DEFAULT_INSTANCE_ID",
    "ACCOUNT_ID",
]

ACCOUNT_ID = "123456789012"  # moto's default account, so role ARNs resolve there
DEFAULT_INSTANCE_ID = "i-0123456789abcdef0"
MAX_TOKEN_TTL = 21600


def iso_utc(epoch: float) -> str:
    """The timestamp format IMDS uses everywhere: ``2024-05-01T12:00:00Z`` (no fraction)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def imds_json(obj: Any) -> str:
    # Real IMDS pretty-prints with two-space indent and " : " between key and value.
    return json.dumps(obj, indent=2, separators=(",", " : "))


@dataclass
class Settings:
    """Per-instance behaviour; the server keeps defaults for instances added later."""

    http_tokens: str = "required"  # "required" (IMDSv2 only) or "optional" (v1 allowed)
    http_endpoint: str = "enabled"  # "disabled": every request gets 403
    instance_metadata_tags: bool = False
    # Requests per second per instance (token bucket, burst = rate). Real EC2 limits the
    # link-local traffic of an interface to 1024 packets/s; 0 or None turns the limit off.
    rate_limit: float | None = 1024.0
    # "429": answer "429 - Too Many Requests" (what throttled IMDS clients report);
    # "drop": hold the request for `drop_stall` seconds and close the connection without an
    # answer, as when the ENI drops packets over its link-local allowance.
    throttle_mode: str = "429"
    drop_stall: float = 2.0
    token_ttl_cap: int | None = None  # tokens live min(requested TTL, cap) seconds
    outage: bool = False  # every request gets 503 while true
    latency: float = 0.0  # seconds added before every answer
    # Network faults for one instance, wherever it is served (its base path or its listener):
    # "partition" holds every request unanswered until the caller gives up (as a dropped
    # link, or toxiproxy's timeout toxic); "connection_reset" answers with a TCP RST.
    partition: bool = False
    connection_reset: bool = False
    credential_lifetime: float = 6 * 3600.0  # what the reported Expiration says
    # New credentials are issued when the held ones have less than this left (EC2 rotates
    # at least 5 minutes before expiry). When it is not shorter than the lifetime (a 60 s
    # lifetime with the default 300 s), half the lifetime is used instead.
    credential_refresh_before: float = 300.0

    def update(self, changes: dict) -> None:
        """Apply ``changes`` all or nothing: a bad value leaves the settings as they were."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown IMDS setting(s) {unknown}; expected some of {sorted(known)}")
        trial = dataclasses.replace(self, **changes)
        trial.validate()
        for key in changes:
            setattr(self, key, getattr(trial, key))

    def validate(self) -> None:
        """Check every field and coerce numbers given as strings or ints (JSON, YAML)."""
        if self.http_tokens not in ("required", "optional"):
            raise ValueError(f"http_tokens: expected 'required' or 'optional', got {self.http_tokens!r}")
        if self.http_endpoint not in ("enabled", "disabled"):
            raise ValueError(f"http_endpoint: expected 'enabled' or 'disabled', got {self.http_endpoint!r}")
        self.throttle_mode = str(self.throttle_mode)
        if self.throttle_mode not in ("429", "drop"):
            raise ValueError(f"throttle_mode: expected '429' or 'drop', got {self.throttle_mode!r}")
        if not isinstance(self.instance_metadata_tags, bool):
            raise ValueError(f"instance_metadata_tags: expected true or false, got {self.instance_metadata_tags!r}")
        for name in ("outage", "partition", "connection_reset"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        for name in ("latency", "drop_stall", "credential_lifetime", "credential_refresh_before"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: expected seconds (a number), got {value!r}") from None
            if not number >= 0 or (name == "credential_lifetime" and number == 0):
                bound = "> 0" if name == "credential_lifetime" else ">= 0"
                raise ValueError(f"{name}: expected {bound} s, got {value!r}")
            setattr(self, name, number)
        if self.rate_limit is not None:
            try:
                self.rate_limit = float(self.rate_limit)
            except (TypeError, ValueError):
                raise ValueError(f"rate_limit: expected requests/s or null, got {self.rate_limit!r}") from None
            if not self.rate_limit >= 0:
                raise ValueError(f"rate_limit: expected >= 0 requests/s or null, got {self.rate_limit!r}")
        if self.token_ttl_cap is not None:
            try:
                cap = int(self.token_ttl_cap)
            except (TypeError, ValueError):
                cap = 0
            if not 1 <= cap <= MAX_TOKEN_TTL:
                raise ValueError(f"token_ttl_cap: expected 1..{MAX_TOKEN_TTL} s or null, got {self.token_ttl_cap!r}")
            self.token_ttl_cap = cap

    def refresh_margin(self) -> float:
        if self.credential_refresh_before < self.credential_lifetime:
            return self.credential_refresh_before
        return self.credential_lifetime / 2

    def copy(self) -> "Settings":
        return dataclasses.replace(self)


def _derived(seq: int, seed: str) -> bytes:
    return hashlib.sha256(f"{seed}:{seq}".encode()).digest()


@dataclass
class Instance:
    """The identity of one instance. Fields left empty are derived from its sequence number,
    so the same fleet gets the same identities run after run."""

    seq: int
    instance_id: str = ""
    availability_zone: str = "us-east-1a"
    instance_type: str = "t3.micro"
    ami_id: str = "ami-0abcdef1234567890"
    local_ipv4: str = ""
    mac: str = ""
    role: str | None = None
    user_data: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    account_id: str = ACCOUNT_ID
    launched_at: float = field(default_factory=time.time)
    # Serve this instance at the root of its own socket (fakes.imds.listeners).
    listener: bool = False
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        digest = _derived(self.seq, "instance")
        if not self.instance_id:
            self.instance_id = "i-0" + digest.hex()[:16]
        if not self.instance_id.startswith("i-"):
            raise ValueError(f"instance_id: expected 'i-' followed by hex, got {self.instance_id!r}")
        if not self.local_ipv4:
            block, host = divmod(self.seq, 254)  # hosts .1 to .254: unique for 16 M instances
            self.local_ipv4 = f"10.{(block >> 8) & 255}.{block & 255}.{host + 1}"
        if not self.mac:
            self.mac = "0e:" + ":".join(f"{b:02x}" for b in digest[8:13])
        if not isinstance(self.listener, bool):
            raise ValueError(f"listener: expected true or false, got {self.listener!r}")
        if len(self.availability_zone) < 2 or not self.availability_zone[-1].isalpha():
            raise ValueError(f"availability_zone: expected like 'us-east-1a', got {self.availability_zone!r}")

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
        return "AIPA" + _derived(self.seq, f"profile:{self.role}").hex()[:17].upper()

    def public(self) -> dict:
        """The control API's view (JSON-able)."""
        out = dataclasses.asdict(self)
        out["settings"] = dataclasses.asdict(self.settings)
        out["region"] = self.region
        out["hostname"] = self.hostname
        return out


def _zone_id(inst: Instance) -> str:
    # "us-east-1a" -> "use1-az1": the shape of real zone ids (the real mapping is per account).
    area, direction, number = (inst.region.split("-") + ["", ""])[:3]
    return f"{area}{direction[:1]}{number}-az{ord(inst.availability_zone[-1]) - 96}"


def metadata_tree(inst: Instance) -> dict:
    """``/latest/meta-data/`` for ``inst``. Leaves that are None (IAM info and credentials)
    are rendered by the server, which holds the credentials."""
    eni_id = "eni-" + _derived(inst.seq, "eni").hex()[:17]
    subnet_id = "subnet-" + _derived(0, "subnet").hex()[:17]
    vpc_id = "vpc-" + _derived(0, "vpc").hex()[:17]
    tree: dict[str, Any] = {
        "ami-id": inst.ami_id,
        "ami-launch-index": "0",
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "hostname": inst.hostname,
        "instance-action": "none",
        "instance-id": inst.instance_id,
        "instance-life-cycle": "on-demand",
        "instance-type": inst.instance_type,
        "local-hostname": inst.hostname,
        "local-ipv4": inst.local_ipv4,
        "mac": inst.mac,
        "network": {
            "interfaces": {
                "macs": {
                    inst.mac: {
                        "device-number": "0",
                        "interface-id": eni_id,
                        "local-hostname": inst.hostname,
                        "local-ipv4s": inst.local_ipv4,
                        "mac": inst.mac,
                        "owner-id": inst.account_id,
                        "subnet-id": subnet_id,
                        "vpc-id": vpc_id,
                    }
                }
            }
        },
        "placement": {
            "availability-zone": inst.availability_zone,
            "availability-zone-id": _zone_id(inst),
            "region": inst.region,
        },
        "profile": "default-hvm",
        "reservation-id": "r-" + _derived(inst.seq, "reservation").hex()[:17],
        "security-groups": "default",
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if inst.role:
        tree["iam"] = {
            "info": None,  # rendered by the server (LastUpdated changes with credentials)
            "security-credentials": {inst.role: None},
        }
    if inst.settings.instance_metadata_tags:
        tree["tags"] = {"instance": {k: str(v) for k, v in inst.tags.items()}}
    return tree


def identity_document(inst: Instance) -> str:
    return imds_json(
        {
            "accountId": inst.account_id,
            "architecture": "x86_64",
            "availabilityZone": inst.availability_zone,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": inst.ami_id,
            "instanceId": inst.instance_id,
            "instanceType": inst.instance_type,
            "kernelId": None,
            "pendingTime": iso_utc(inst.launched_at),
            "privateIp": inst.local_ipv4,
            "ramdiskId": None,
            "region": inst.region,
            "version": "2017-09-30",
        }
    )
