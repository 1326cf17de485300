"""What can change on a running instance: EC2's metadata options, events, and chaos knobs.

`Settings` mirrors the EC2 instance metadata options (``http_tokens``, ``http_endpoint``,
``http_put_response_hop_limit``, ``instance_metadata_tags``), the events EC2 announces through
the metadata (spot interruption, rebalance recommendation, scheduled maintenance, Auto Scaling
lifecycle), and the knobs a chaos run turns (request limit, outage, latency, network faults,
credential lifetime, the extra hop of a container).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

__all__ = ["Settings", "MAX_TOKEN_TTL", "SPOT_ACTIONS", "SPOT_NOTICE_SECONDS"]

MAX_TOKEN_TTL = 21600
SPOT_ACTIONS = ("terminate", "stop", "hibernate")
# EC2 posts the spot interruption notice two minutes before it acts.
SPOT_NOTICE_SECONDS = 120.0
_LIFECYCLE_STATES = ("InService", "Terminated", "Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated",
                     "Warmed:Terminated")


@dataclass
class Settings:
    """Per-instance behaviour; the server keeps defaults for instances added later."""

    http_tokens: str = "required"  # "required" (IMDSv2 only) or "optional" (v1 allowed)
    http_endpoint: str = "enabled"  # "disabled": every request gets 403
    instance_metadata_tags: bool = False
    # EC2's HttpPutResponseHopLimit (1..64): the IP TTL of the token PUT's answer. The fake
    # cannot see TTLs on loopback, so `hops` says how many hops the instance's software sits
    # from the instance's interface: 1 on the instance itself, 2 inside a Docker bridge
    # container. When hops > hop limit the token answer is lost: the fake never answers the
    # PUT (the caller times out), exactly what a container sees on a hop limit of 1.
    http_put_response_hop_limit: int = 1
    hops: int = 1
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
    # Events. A spot interruption: spot/instance-action and (for terminate)
    # spot/termination-time appear; `spot_action_time` (epoch s) defaults to 2 minutes after
    # the action is set. Absent (null), both paths answer 404 as on EC2.
    spot_action: str | None = None
    spot_action_time: float | None = None
    rebalance_recommended_at: float | None = None  # epoch s: events/recommendations/rebalance
    # events/maintenance/scheduled: EC2's list of {"Code", "Description", "EventId",
    # "NotAfter", "NotBefore", "State"} objects; history keeps past ones.
    maintenance_scheduled: list = field(default_factory=list)
    maintenance_history: list = field(default_factory=list)
    # autoscaling/target-lifecycle-state (InService, Terminated, Warmed:*); null: 404.
    target_lifecycle_state: str | None = None

    def update(self, changes: dict) -> None:
        """Apply ``changes`` all or nothing: a bad value leaves the settings as they were."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown IMDS setting(s) {unknown}; expected some of {sorted(known)}")
        trial = dataclasses.replace(self, **changes)
        if "spot_action" in changes and "spot_action_time" not in changes:
            trial.spot_action_time = None  # a new notice gets a new deadline
        trial.validate()
        for key in known:
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
        for name in ("instance_metadata_tags", "outage", "partition", "connection_reset"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        for name in ("http_put_response_hop_limit", "hops"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
                raise ValueError(f"{name}: expected a whole number of hops 1..64, got {value!r}")
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
        self._validate_events()

    def _validate_events(self) -> None:
        if self.spot_action is not None and self.spot_action not in SPOT_ACTIONS:
            raise ValueError(f"spot_action: expected one of {list(SPOT_ACTIONS)} or null, got {self.spot_action!r}")
        for name in ("spot_action_time", "rebalance_recommended_at"):
            value = getattr(self, name)
            if value is not None:
                try:
                    setattr(self, name, float(value))
                except (TypeError, ValueError):
                    raise ValueError(f"{name}: expected epoch seconds or null, got {value!r}") from None
        if self.spot_action is None:
            self.spot_action_time = None
        elif self.spot_action_time is None:
            self.spot_action_time = float(int(time.time() + SPOT_NOTICE_SECONDS))
        for name in ("maintenance_scheduled", "maintenance_history"):
            events = getattr(self, name)
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise ValueError(f"{name}: expected a list of event objects, got {events!r}")
        state = self.target_lifecycle_state
        if state is not None and state not in _LIFECYCLE_STATES:
            raise ValueError(f"target_lifecycle_state: expected one of {list(_LIFECYCLE_STATES)} or null, "
                             f"got {state!r}")

    def refresh_margin(self) -> float:
        if self.credential_refresh_before < self.credential_lifetime:
            return self.credential_refresh_before
        return self.credential_lifetime / 2

    def copy(self) -> "Settings":
        return dataclasses.replace(self, maintenance_scheduled=list(self.maintenance_scheduled),
                                   maintenance_history=list(self.maintenance_history))
