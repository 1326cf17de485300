"""Everything the metadata service remembers: instances, session tokens, request limits, log.

Plain objects driven by one asyncio loop (the server), so no locks; time comes from
``time.monotonic()`` for TTLs and limits and ``time.time()`` for what is reported.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from fakes.imds.credentials import CredentialLedger, Issuer
from fakes.imds.model import DEFAULT_INSTANCE_ID, Instance, Settings, valid_instance_id
from fakes.imds.signing import TestSigner
from fakes.imds.tree import metadata_tree
from fakes.imds.versions import at_version

__all__ = ["TokenBucket", "InstanceState", "ImdsState", "check_spot_only"]

LOG_LIMIT = 200_000  # entries kept; the oldest fall off
# EC2 posts interruption notices and rebalance recommendations to spot instances only.
SPOT_ONLY_SETTINGS = ("spot_action", "rebalance_recommended_at")


def check_spot_only(inst: Instance, changes: dict) -> None:
    """Refuse a spot-only event for an instance that is not a spot instance."""
    for name in SPOT_ONLY_SETTINGS:
        if changes.get(name) is not None and inst.instance_life_cycle != "spot":
            raise ValueError(f"{name}: EC2 sends this to spot instances only; {inst.instance_id} has "
                             f"instance_life_cycle {inst.instance_life_cycle!r} (launch it with "
                             "instance_life_cycle: spot)")


class TokenBucket:
    """``rate`` requests per second with a burst of one second's worth."""

    __slots__ = ("rate", "tokens", "stamp")

    def __init__(self, rate: float):
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class InstanceState:
    instance: Instance
    tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    bucket: TokenBucket | None = None
    signed: dict[str, str] = field(default_factory=dict)  # dynamic/instance-identity/*, signed once
    identity_credentials: dict | None = None  # identity-credentials/ec2 (made up, see render)
    _tree: dict | None = None
    _dated: dict[str, dict] = field(default_factory=dict)  # version -> tree as that build serves it

    def __post_init__(self) -> None:
        self.reset_bucket()

    @property
    def settings(self) -> Settings:
        return self.instance.settings

    @property
    def tree(self) -> dict:
        """``meta-data/`` for this instance, built once: it changes only with settings."""
        if self._tree is None:
            self._tree = metadata_tree(self.instance)
        return self._tree

    def tree_at(self, version: str) -> dict:
        """``meta-data/`` as build ``version`` serves it (`fakes.imds.versions`)."""
        if version not in self._dated:
            self._dated[version] = at_version(self.tree, version)
        return self._dated[version]

    def invalidate(self) -> None:
        """Settings changed: rebuild the trees on the next request."""
        self._tree = None
        self._dated.clear()

    def reset_bucket(self) -> None:
        rate = self.settings.rate_limit
        self.bucket = TokenBucket(rate) if rate else None

    def allow(self, now: float) -> bool:
        return self.bucket is None or self.bucket.take(now)

    def issue_token(self, ttl: int, now: float) -> str:
        if len(self.tokens) > 1024:  # a boot storm of PUTs must not grow memory forever
            self.tokens = {t: exp for t, exp in self.tokens.items() if exp > now}
        # Real tokens are opaque base64 of ~56 characters.
        token = "AQAEA" + secrets.token_urlsafe(40)
        self.tokens[token] = now + ttl
        return token

    def token_valid(self, token: str, now: float) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and now < expiry


class ImdsState:
    def __init__(self, issuer: Issuer, defaults: Settings | None = None, signer: TestSigner | None = None):
        self.defaults = defaults or Settings()
        self.signer = signer or TestSigner()
        self.instances: dict[str, InstanceState] = {}
        self.default_instance: str | None = None  # served at the root path
        self.ledger = CredentialLedger(issuer)
        self.log: deque[tuple] = deque(maxlen=LOG_LIMIT)
        self.log_seq = 0
        self._next_seq = 1
        # Per-instance root listeners (see fakes.imds.listeners): both directions.
        self.listener_ports: dict[str, int] = {}
        self.port_instances: dict[int, str] = {}
        self.wanted_listeners: set[str] = set()  # instances added with listener: true
        self.closing = False  # set on shutdown: held (partitioned) requests give up

    def bind_listener(self, instance_id: str, port: int) -> None:
        self.listener_ports[instance_id] = port
        self.port_instances[port] = instance_id

    def unbind_listener(self, instance_id: str) -> int | None:
        port = self.listener_ports.pop(instance_id, None)
        if port is not None:
            self.port_instances.pop(port, None)
        return port

    def add(self, spec: dict, at_root: bool = False) -> Instance:
        spec = dict(spec)
        allowed = {f.name for f in dataclasses.fields(Instance)} - {"seq"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ValueError(f"unknown instance field(s) {unknown}; expected some of {sorted(allowed)}")
        settings = self.defaults.copy()
        changes = spec.pop("settings", None) or {}
        if not isinstance(changes, dict):
            raise ValueError(f"settings: expected an object of IMDS settings, got {changes!r}")
        try:
            settings.update(changes)
        except ValueError as exc:
            raise ValueError(f"settings: {exc}") from None
        inst = Instance(seq=self._next_seq, settings=settings, **spec)
        try:
            check_spot_only(inst, dataclasses.asdict(settings))
        except ValueError as exc:
            raise ValueError(f"settings: {exc}") from None
        if inst.instance_id in self.instances:
            raise ValueError(f"instance {inst.instance_id} already exists")
        self._next_seq += 1
        self.instances[inst.instance_id] = InstanceState(inst)
        if inst.listener:
            self.wanted_listeners.add(inst.instance_id)
        if at_root:
            self.default_instance = inst.instance_id
        return inst

    def add_default(self) -> Instance:
        return self.add({"instance_id": DEFAULT_INSTANCE_ID, "role": "bootstorm-instance"}, at_root=True)

    def remove(self, instance_id: str) -> None:
        self.get(instance_id)  # 400 for a malformed id, 404 for an unknown one
        del self.instances[instance_id]
        self.wanted_listeners.discard(instance_id)
        self.ledger.forget(instance_id)
        if self.default_instance == instance_id:
            self.default_instance = None

    def get(self, instance_id: str) -> InstanceState:
        if not valid_instance_id(instance_id):
            raise ValueError(f"instance id: expected 'i-' followed by 8 or 17 lowercase hex digits "
                             f"(like 'i-0123456789abcdef0'), got {instance_id!r}")
        try:
            return self.instances[instance_id]
        except KeyError:
            raise KeyError(f"no instance {instance_id!r}; known: {len(self.instances)} instances") from None

    def select(self, instance_id: str | None) -> list[InstanceState]:
        return list(self.instances.values()) if instance_id is None else [self.get(instance_id)]

    def configure(self, changes: dict, instance_id: str | None = None) -> None:
        """Change settings of one instance, or of all and of the defaults for new ones."""
        targets = self.select(instance_id)
        spot_events = [name for name in SPOT_ONLY_SETTINGS if changes.get(name) is not None]
        if instance_id is None and spot_events:
            raise ValueError(f"{', '.join(spot_events)}: a spot event is posted to one instance; "
                             "give its instance id")
        for st in targets:
            check_spot_only(st.instance, changes)
        for st in targets:
            st.settings.update(changes)
            st.invalidate()
        if instance_id is None:
            self.defaults.update(changes)
        if "rate_limit" in changes:
            for st in targets:
                st.reset_bucket()

    def expire_tokens(self, instance_id: str | None = None) -> int:
        count = 0
        for st in self.select(instance_id):
            count += len(st.tokens)
            st.tokens.clear()
        return count

    def record(self, instance_id: str | None, method: str, path: str, status: int | str) -> None:
        self.log_seq += 1
        self.log.append((self.log_seq, time.time(), time.monotonic(), instance_id, method, path, status))

    def log_since(self, since: int = 0, instance_id: str | None = None, limit: int = 50_000) -> list[dict]:
        out = []
        for seq, wall, mono, iid, method, path, status in self.log:
            if seq <= since or (instance_id is not None and iid != instance_id):
                continue
            out.append({"seq": seq, "time": wall, "monotonic": mono, "instance_id": iid,
                        "method": method, "path": path, "status": status})
            if len(out) >= limit:
                break
        return out

    def clear(self) -> None:
        self.instances.clear()
        self.wanted_listeners.clear()
        self.default_instance = None
        self.ledger.clear()
        self.log.clear()
        self._next_seq = 1
