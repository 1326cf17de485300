"""Which failures are worth retrying, the way botocore's retry modes decide it.

``classify(code, status, timeout=, connection=)`` turns what an attempt saw into an
``ErrorClass``: one of a few shared, immutable objects, so engines can compare and record them
cheaply. The code lists follow botocore (``botocore/retries/standard.py`` for the standard and
adaptive modes, ``botocore/data/_retry.json`` for legacy mode).

Order of the rules (first match wins): read/connect timeout, connection error, throttling code,
transient code, expired-credential code, 5xx status, everything else (not retryable).
"""

from __future__ import annotations

__all__ = [
    "ErrorClass",
    "classify",
    "THROTTLING_CODES",
    "TRANSIENT_CODES",
    "CREDENTIAL_CODES",
    "TRANSIENT_STATUSES",
]

THROTTLING_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        # botocore lists this one as both transient and throttling; its throttling detector
        # (which drives the adaptive limiter) therefore treats it as a throttle, and so do we.
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

# botocore's transient codes, plus the 5xx codes AWS services send with a 500/503 status, so a
# caller that only knows the code classifies them as their status would.
TRANSIENT_CODES: frozenset[str] = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)

# Not retried by the SDK retry layer: the credential provider refreshes and the call is re-made.
CREDENTIAL_CODES: frozenset[str] = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"}
)

TRANSIENT_STATUSES: frozenset[int] = frozenset({500, 502, 503, 504})

# Legacy mode (_retry.json __default__): socket errors, these statuses, these two codes.
_LEGACY_STATUSES = frozenset({429, 500, 503, 509})
_LEGACY_CODES = frozenset({"Throttling", "ThrottlingException"})


class ErrorClass:
    """What kind of failure an attempt ended with, and what the retry layer may do about it.

    ``kind`` is one of ``throttle``, ``transient``, ``server``, ``timeout``, ``connection``,
    ``credentials``, ``client``. ``retryable`` is the standard/adaptive-mode answer,
    ``legacy_retryable`` the legacy-mode one. ``throttle`` feeds the adaptive rate limiter;
    ``timeout`` makes a standard-mode retry cost more quota.
    """

    __slots__ = ("kind", "retryable", "throttle", "timeout", "legacy_retryable")

    def __init__(self, kind: str, retryable: bool, legacy_retryable: bool):
        self.kind = kind
        self.retryable = retryable
        self.legacy_retryable = legacy_retryable
        self.throttle = kind == "throttle"
        self.timeout = kind == "timeout"

    def __repr__(self) -> str:
        legacy = (
            "" if self.legacy_retryable == self.retryable else f", legacy={self.legacy_retryable}"
        )
        return f"ErrorClass({self.kind!r}, retryable={self.retryable}{legacy})"

    def __reduce__(self):
        return (ErrorClass, (self.kind, self.retryable, self.legacy_retryable))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorClass):
            return NotImplemented
        return (self.kind, self.retryable, self.legacy_retryable) == (
            other.kind,
            other.retryable,
            other.legacy_retryable,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.retryable, self.legacy_retryable))


_RETRYABLE_KINDS = frozenset({"throttle", "transient", "server", "timeout", "connection"})
_INTERNED: dict[tuple[str, bool], ErrorClass] = {
    (kind, legacy): ErrorClass(kind, kind in _RETRYABLE_KINDS, legacy)
    for kind in (
        "throttle",
        "transient",
        "server",
        "timeout",
        "connection",
        "credentials",
        "client",
    )
    for legacy in (False, True)
}


def classify(
    code: str | None = None,
    status: int | None = None,
    timeout: bool = False,
    connection: bool = False,
) -> ErrorClass:
    """The ``ErrorClass`` of a failed attempt.

    ``code`` is the AWS error code (``ThrottlingException``), ``status`` the HTTP status,
    ``timeout`` a connect/read timeout on the client side, ``connection`` a connection error
    with no response (refused, reset). Returns one of a few shared instances.
    """
    if timeout:
        return _INTERNED["timeout", True]
    if connection:
        return _INTERNED["connection", True]
    legacy = (code in _LEGACY_CODES) or (status in _LEGACY_STATUSES)
    if code is not None:
        if code in THROTTLING_CODES:
            return _INTERNED["throttle", legacy]
        if code in TRANSIENT_CODES:
            return _INTERNED["transient", legacy]
        if code in CREDENTIAL_CODES:
            return _INTERNED["credentials", legacy]
    if status in TRANSIENT_STATUSES:
        return _INTERNED["server", legacy]
    return _INTERNED["client", legacy]
