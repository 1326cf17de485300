"""Which instance an access key belongs to, and when its credentials expire.

moto does not enforce the Expiration of session credentials, so the gate does: a request signed
with a registered key whose expiration has passed gets ExpiredToken(Exception). The harness (or
the IMDS fake) registers each key it hands to an instance; STS AssumeRole answers that pass
through the gate are registered on the way out too. Expirations are wall-clock epoch seconds,
the clock the Expiration timestamps AWS hands out are on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CredentialError", "Credential", "CredentialBook", "parse_expiration"]

_ASSUMED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_ASSUMED_EXPIRATION = re.compile(rb"<Expiration>([^<]+)</Expiration>")


class CredentialError(ValueError):
    """Control input that does not describe a credential; the message names the field."""


@dataclass
class Credential:
    access_key: str
    instance_id: str | None
    expiration: float | None  # epoch seconds; None: never expires

    def describe(self) -> dict[str, Any]:
        return {"access_key": self.access_key, "instance_id": self.instance_id, "expiration": self.expiration}


def parse_expiration(value: Any, field_name: str = "expiration") -> float | None:
    """Epoch seconds from a number or an ISO 8601 timestamp (naive means UTC); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.timezone.utc)
            return stamp.timestamp()
    raise CredentialError(
        f"field {field_name!r} must be epoch seconds or an ISO 8601 timestamp, got {value!r}"
    )


class CredentialBook:
    def __init__(self) -> None:
        self.keys: dict[str, Credential] = {}

    def register(self, spec: Any, now: float) -> Credential:
        if not isinstance(spec, dict):
            raise CredentialError(f"a credential must be a JSON object, got {type(spec).__name__}")
        allowed = {"access_key", "instance_id", "expiration", "expires_in"}
        unknown = set(spec) - allowed
        if unknown:
            raise CredentialError(f"credential: unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")
        key = spec.get("access_key")
        if not isinstance(key, str) or not key:
            raise CredentialError(f"credential: field 'access_key' must be a non-empty string, got {key!r}")
        instance_id = spec.get("instance_id")
        if instance_id is not None and (not isinstance(instance_id, str) or not instance_id):
            raise CredentialError(
                f"credential: field 'instance_id' must be a non-empty string or null, got {instance_id!r}"
            )
        if "expiration" in spec and "expires_in" in spec:
            raise CredentialError("credential: give 'expiration' or 'expires_in', not both")
        if "expires_in" in spec:
            expires_in = spec["expires_in"]
            if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
                raise CredentialError(f"credential: field 'expires_in' must be seconds, got {expires_in!r}")
            expiration: float | None = now + float(expires_in)
        else:
            expiration = parse_expiration(spec.get("expiration"))
        credential = Credential(key, instance_id, expiration)
        self.keys[key] = credential
        return credential

    def instance_of(self, access_key: str | None) -> str | None:
        credential = self.keys.get(access_key) if access_key else None
        return credential.instance_id if credential else None

    def is_expired(self, access_key: str | None, now: float) -> bool:
        credential = self.keys.get(access_key) if access_key else None
        return bool(credential and credential.expiration is not None and credential.expiration <= now)

    def expire(self, now: float, access_key: str | None = None, instance_id: str | None = None) -> int:
        """Set the expiration of one key, of an instance's keys, or of every key, to now."""
        count = 0
        for credential in self.keys.values():
            if access_key is not None and credential.access_key != access_key:
                continue
            if instance_id is not None and credential.instance_id != instance_id:
                continue
            credential.expiration = now
            count += 1
        return count

    def learn_assumed(self, body: bytes, instance_id: str | None) -> str | None:
        """Register the key in an STS AssumeRole answer (moto's XML) for the calling instance."""
        key = _ASSUMED_KEY.search(body)
        expiration = _ASSUMED_EXPIRATION.search(body)
        if not key or key.group(1).decode() in self.keys:
            return None
        try:
            expires = parse_expiration(expiration.group(1).decode()) if expiration else None
        except CredentialError:
            expires = None
        access_key = key.group(1).decode()
        self.keys[access_key] = Credential(access_key, instance_id, expires)
        return access_key
