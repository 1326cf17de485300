"""Which instance an access key belongs to, its secret, and when its credentials expire.

moto does not enforce the Expiration of session credentials, so the gate does: a request signed
with a registered key whose expiration has passed gets ExpiredToken(Exception). The harness (or
the IMDS fake) registers each key it hands to an instance; STS AssumeRole answers that pass
through the gate are registered on the way out too. Expirations are wall-clock epoch seconds,
the clock the Expiration timestamps AWS hands out are on.

Secrets, to check signatures (``fakes.gate.sigv4``), come from three places: a registration
that gives ``secret_key`` (and ``session_token``), an AssumeRole answer passing through, and
moto itself (`learn_moto`: its ``/moto-api/data.json`` state holds every IAM access key and
every STS session it issued, which is where IMDS role credentials and the seeded harness key
come from). A secret is never part of ``describe`` and never logged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CredentialError", "Credential", "CredentialBook", "parse_expiration"]

_ASSUMED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_ASSUMED_EXPIRATION = re.compile(rb"<Expiration>([^<]+)</Expiration>")
_ASSUMED_SECRET = re.compile(rb"<SecretAccessKey>([^<]+)</SecretAccessKey>")
_ASSUMED_TOKEN = re.compile(rb"<SessionToken>([^<]+)</SessionToken>")


class CredentialError(ValueError):
    """Control input that does not describe a credential; the message names the field."""


@dataclass
class Credential:
    access_key: str
    instance_id: str | None
    expiration: float | None  # epoch seconds; None: never expires
    secret: str | None = field(default=None, repr=False)  # None: cannot check its signatures yet
    token: str | None = field(default=None, repr=False)  # session token, for session keys

    def describe(self) -> dict[str, Any]:
        return {"access_key": self.access_key, "instance_id": self.instance_id, "expiration": self.expiration,
                "verifiable": self.secret is not None}


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
        self.learned: dict[str, tuple[str, str | None]] = {}  # from moto: key -> (secret, token)

    def register(self, spec: Any, now: float) -> Credential:
        if not isinstance(spec, dict):
            raise CredentialError(f"a credential must be a JSON object, got {type(spec).__name__}")
        allowed = {"access_key", "instance_id", "expiration", "expires_in", "secret_key", "session_token"}
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
        secrets = {}
        for name in ("secret_key", "session_token"):
            value = spec.get(name)
            if value is not None and (not isinstance(value, str) or not value):
                raise CredentialError(f"credential: field {name!r} must be a non-empty string or null "
                                      f"(got a {type(value).__name__})")  # never echo a secret
            secrets[name] = value
        known = self.keys.get(key)
        credential = Credential(key, instance_id, expiration,
                                secrets["secret_key"] or (known.secret if known else None),
                                secrets["session_token"] or (known.token if known else None))
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
        if not key:
            return None
        access_key = key.group(1).decode()
        secret, token = _ASSUMED_SECRET.search(body), _ASSUMED_TOKEN.search(body)
        secret_text = secret.group(1).decode() if secret else None
        token_text = token.group(1).decode() if token else None
        known = self.keys.get(access_key)
        if known is not None:  # registered before (without its secret, say): complete it
            known.secret = known.secret or secret_text
            known.token = known.token or token_text
            return None
        expiration = _ASSUMED_EXPIRATION.search(body)
        try:
            expires = parse_expiration(expiration.group(1).decode()) if expiration else None
        except CredentialError:
            expires = None
        self.keys[access_key] = Credential(access_key, instance_id, expires, secret_text, token_text)
        return access_key

    def learn_moto(self, data: Any) -> int:
        """Secrets (and session tokens) of every key in moto's ``/moto-api/data.json`` state.

        Registered keys without a secret are completed (keeping instance and expiration); the
        others wait in ``learned`` until a request uses them (`usable`). Returns how many
        registered keys became verifiable."""
        if not isinstance(data, dict):
            return 0
        found: dict[str, tuple[str, str | None]] = {}
        for entry in (data.get("iam") or {}).get("AccessKey") or []:
            if entry.get("status", "Active") == "Active" and entry.get("access_key_id") and entry.get("secret_access_key"):
                found[entry["access_key_id"]] = (entry["secret_access_key"], None)
        for entry in (data.get("sts") or {}).get("AssumedRole") or []:
            if entry.get("access_key_id") and entry.get("secret_access_key"):
                found[entry["access_key_id"]] = (entry["secret_access_key"], entry.get("session_token"))
        self.learned.update(found)
        learned = 0
        for access_key, (secret, token) in found.items():
            known = self.keys.get(access_key)
            if known is not None and known.secret is None:  # registered without it: complete it
                known.secret, known.token = secret, known.token or token
                learned += 1
        return learned

    def usable(self, access_key: str) -> Credential | None:
        """The credential to check a request signed with ``access_key``, if its secret is known.

        A key learned from moto but never registered joins the book here, when first used."""
        credential = self.keys.get(access_key)
        if credential is not None and credential.secret is not None:
            return credential
        learned = self.learned.get(access_key)
        if learned is None:
            return None
        if credential is None:
            credential = self.keys[access_key] = Credential(access_key, None, None, *learned)
        else:
            credential.secret, credential.token = learned[0], credential.token or learned[1]
        return credential
