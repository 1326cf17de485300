"""Role credentials for instances: issued by moto STS, reported with the lifetime we intend.

moto's AssumeRole will not issue for less than 900 s, and tests need credentials that expire
after 60 s. So the access key, secret and session token are real (moto knows them, signatures
verify), while the Expiration the IMDS reports is ours; every issued key and its intended
expiration is kept in `CredentialLedger` so the AWS API gate can refuse expired keys the way
AWS does (ExpiredToken).

`issue_role_credentials` is the one place that talks to STS; `fakes.seed` may replace it.
"""

from __future__ import annotations

import math
import secrets
import string
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

from fakes.imds.model import ACCOUNT_ID, iso_utc

__all__ = [
    "IssuedCredentials",
    "CredentialLedger",
    "Issuer",
    "moto_issuer",
    "synthetic_issuer",
    "issue_role_credentials",
]

MOTO_MIN_DURATION = 900


@dataclass
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    instance_id: str
    role: str
    issued_at: float  # epoch seconds
    expiration: float  # epoch seconds, whole seconds (what the IMDS reports)
    # How they were fetched: "2.0" with an IMDSv2 token, "1.0" without (EC2 gives IMDSv1
    # callers their own credentials; CloudTrail shows this as ec2RoleDelivery).
    delivery: str = "2.0"

    def imds_body(self) -> dict:
        return {
            "Code": "Success",
            "LastUpdated": iso_utc(self.issued_at),
            "Type": "AWS-HMAC",
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.session_token,
            "Expiration": iso_utc(self.expiration),
        }

    def public(self) -> dict:
        out = asdict(self)
        del out["secret_access_key"], out["session_token"]
        out["expiration_iso"] = iso_utc(self.expiration)
        return out


# (role ARN, session name, duration seconds) -> (access key, secret, session token)
Issuer = Callable[[str, str, int], tuple[str, str, str]]


def issue_role_credentials(moto_url: str, role_arn: str, session_name: str, duration: int,
                           caller: tuple[str, str] = ("testing", "testing")) -> tuple[str, str, str]:
    """AssumeRole on moto STS as ``caller`` (access key id, secret); returns (key, secret, token).

    With moto's IAM enforcement on, ``caller`` must be a key moto's IAM knows (the harness key
    `fakes.seed` creates); the dummy default only works while enforcement is off."""
    import boto3  # slow import; only servers that talk to moto pay for it

    client = _sts_client(moto_url, caller, boto3)
    resp = client.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name[:64],
        DurationSeconds=max(MOTO_MIN_DURATION, duration),
    )
    c = resp["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _sts_client(moto_url: str, caller: tuple[str, str], boto3) -> object:
    # boto3 clients are thread-safe once built; building one costs ~50 ms, so keep it.
    from botocore.config import Config

    with _clients_lock:
        client = _clients.get((moto_url, caller))
        if client is None:
            client = boto3.session.Session().client(
                "sts",
                endpoint_url=moto_url,
                region_name="us-east-1",
                aws_access_key_id=caller[0],
                aws_secret_access_key=caller[1],
                # EC2 answers a failed AssumeRole quickly (in the body); do not hide a dead
                # moto behind the SDK's retries and backoff.
                config=Config(retries={"mode": "standard", "max_attempts": 2},
                              connect_timeout=5, read_timeout=30),
            )
            _clients[(moto_url, caller)] = client
        return client


def moto_issuer(moto_url: str, caller: tuple[str, str] = ("testing", "testing")) -> Issuer:
    return lambda role_arn, session, duration: issue_role_credentials(moto_url, role_arn, session, duration, caller)


def synthetic_issuer() -> Issuer:
    """Credentials no AWS API knows, for runs without moto (the metadata protocol alone)."""
    alphabet = string.ascii_uppercase + string.digits

    def issue(role_arn: str, session: str, duration: int) -> tuple[str, str, str]:
        key = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        return key, secrets.token_urlsafe(30), "FwoG" + secrets.token_urlsafe(96)

    return issue


class CredentialLedger:
    """Holds each instance's current credentials (one set per delivery: IMDSv2 and IMDSv1)
    and every key ever issued.

    Thread-safe: issuing runs in worker threads (boto3 is blocking)."""

    def __init__(self, issuer: Issuer):
        self._issuer = issuer
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str], IssuedCredentials] = {}
        self._issued: list[IssuedCredentials] = []
        self._issue_locks: dict[tuple[str, str], threading.Lock] = {}

    def current(self, instance_id: str, role: str, lifetime: float, refresh_margin: float,
                account_id: str = ACCOUNT_ID, delivery: str = "2.0") -> IssuedCredentials:
        """The credentials to serve now, issuing new ones when the held ones are near expiry."""
        slot = (instance_id, delivery)
        with self._lock:
            creds = self._current.get(slot)
            if creds is not None and creds.role == role and time.time() < creds.expiration - refresh_margin:
                return creds
            issue_lock = self._issue_locks.setdefault(slot, threading.Lock())
        with issue_lock:  # concurrent requests of one instance share one AssumeRole
            with self._lock:
                creds = self._current.get(slot)
                if creds is not None and creds.role == role and time.time() < creds.expiration - refresh_margin:
                    return creds
            now = time.time()
            role_arn = f"arn:aws:iam::{account_id}:role/{role}"
            # The session name is the instance id, as EC2's; the delivery tells the two apart.
            key, secret, token = self._issuer(role_arn, instance_id, math.ceil(lifetime))
            creds = IssuedCredentials(
                access_key_id=key,
                secret_access_key=secret,
                session_token=token,
                instance_id=instance_id,
                role=role,
                issued_at=now,
                expiration=float(math.floor(now + lifetime)),
                delivery=delivery,
            )
            with self._lock:
                self._current[slot] = creds
                self._issued.append(creds)
            return creds

    def held(self, instance_id: str, delivery: str = "2.0") -> IssuedCredentials | None:
        with self._lock:
            return self._current.get((instance_id, delivery))

    def expire(self, instance_id: str | None = None) -> list[str]:
        """Expire now the current credentials of one instance (or all); returns their keys.

        The next metadata request gets new ones, as after EC2 rotates them."""
        now = float(math.floor(time.time()))
        with self._lock:
            slots = [s for s in self._current if instance_id is None or s[0] == instance_id]
            expired = []
            for slot in slots:
                creds = self._current.pop(slot, None)
                if creds is not None:
                    creds.expiration = min(creds.expiration, now)
                    expired.append(creds.access_key_id)
            return expired

    def forget(self, instance_id: str) -> None:
        with self._lock:
            for slot in [s for s in self._current if s[0] == instance_id]:
                del self._current[slot]

    def issued(self, since: int = 0) -> list[dict]:
        with self._lock:
            return [dict(c.public(), seq=i + 1) for i, c in enumerate(self._issued) if i + 1 > since]

    def clear(self) -> None:
        with self._lock:
            self._current.clear()
            self._issued.clear()
