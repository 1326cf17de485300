"""Signature Version 4, checked as AWS checks it, with botocore's own signer doing the math.

`read_auth` takes the credentials a request carries, in the ``Authorization`` header or a
presigned URL's ``X-Amz-*`` query parameters, or raises `AuthFailure`:

    missing      no Authorization header and no X-Amz-Signature: MissingAuthenticationToken
    incomplete   an Authorization header without Credential, SignedHeaders or Signature, with
                 another algorithm, or a request with no X-Amz-Date/Date: IncompleteSignature
    skewed       X-Amz-Date more than 15 minutes from the gate's clock: SignatureDoesNotMatch /
                 InvalidSignatureException "Signature expired: ..." (what STS and the JSON
                 services answer; ``RequestTimeTooSkewed`` is S3's code for the same rule)
    request_expired  a presigned URL used after X-Amz-Date + X-Amz-Expires: RequestExpired

`expected_signature` recomputes the signature from the request as received (method, raw
path, query without X-Amz-Signature, exactly the headers the client listed in SignedHeaders,
the payload hash) with ``botocore.auth.SigV4Auth``: its canonical request, string to sign and
key derivation, so the gate agrees with every SDK that agrees with botocore. Only the header
selection is the client's (``SignedHeaders``), not botocore's own list.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

__all__ = ["Auth", "AuthFailure", "read_auth", "check_clock", "expected_signature", "signature_matches",
           "as_header_signed", "query_pairs", "MAX_SKEW_S", "ALGORITHM"]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60  # AWS refuses a signature more than 15 minutes off its clock
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PARAM = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_SCOPE = re.compile(r"^([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request$")


class AuthFailure(Exception):
    """Why a request's authentication is refused: ``kind`` names the AWS error (see FAILURES)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Auth:
    access_key: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # as sent, e.g. 20260101T000000Z
    token: str | None  # X-Amz-Security-Token, if any
    presigned: bool = False
    expires: int | None = None  # X-Amz-Expires of a presigned URL


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs of a raw query string, in order, blanks kept."""
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def read_auth(headers, pairs: list[tuple[str, str]]) -> Auth:
    """The credentials a request carries, or AuthFailure (missing / incomplete)."""
    header = headers.get("Authorization")
    query = dict(pairs)
    if header is None and "X-Amz-Signature" not in query:
        raise AuthFailure("missing", "Request is missing Authentication Token")
    if header is None:
        return _presigned(query)
    algorithm = header.split(" ", 1)[0]
    if algorithm != ALGORITHM:
        raise AuthFailure("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}'. "
                                        f"Supported AWS 'algorithm': '{ALGORITHM}'.")
    found = dict(_PARAM.findall(header))
    absent = [name for name in ("Credential", "Signature", "SignedHeaders") if not found.get(name)]
    if absent:
        raise AuthFailure("incomplete", " ".join(
            f"Authorization header requires '{name}' parameter." for name in absent) + f" Authorization={header}")
    scope = _SCOPE.match(found["Credential"])
    if not scope:
        raise AuthFailure("incomplete", "Credential should be scoped to a valid region, service and date, "
                                        f"got '{found['Credential']}'.")
    amz_date = headers.get("X-Amz-Date")
    if amz_date is None:
        raise AuthFailure("incomplete", "Authorization header requires existence of either a 'X-Amz-Date' "
                                        f"or a 'Date' header. Authorization={header}")
    return Auth(scope.group(1), scope.group(3), scope.group(4), tuple(found["SignedHeaders"].split(";")),
                found["Signature"], amz_date, headers.get("X-Amz-Security-Token"))


def _presigned(query: dict[str, str]) -> Auth:
    absent = [name for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders")
              if not query.get(name)]
    if absent:
        raise AuthFailure("incomplete", " ".join(f"AWS query-string parameters must include '{name}'."
                                                 for name in absent) + " Re-examine the query-string parameters.")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthFailure("incomplete", f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'.")
    scope = _SCOPE.match(query["X-Amz-Credential"])
    if not scope:
        raise AuthFailure("incomplete", "Credential should be scoped to a valid region, service and date, "
                                        f"got '{query['X-Amz-Credential']}'.")
    try:
        expires = int(query.get("X-Amz-Expires", "604800"))
    except ValueError:
        raise AuthFailure("incomplete", f"X-Amz-Expires must be a number of seconds, "
                                        f"got '{query['X-Amz-Expires']}'.") from None
    return Auth(scope.group(1), scope.group(3), scope.group(4), tuple(query["X-Amz-SignedHeaders"].split(";")),
                query["X-Amz-Signature"], query["X-Amz-Date"], query.get("X-Amz-Security-Token"),
                presigned=True, expires=expires)


def _stamp(when: dt.datetime) -> str:
    return when.strftime(_AMZ_DATE)


def check_clock(auth: Auth, now: float) -> None:
    """AuthFailure when the request's date is outside AWS's window (or not a date at all)."""
    try:
        signed = dt.datetime.strptime(auth.amz_date, _AMZ_DATE).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise AuthFailure("incomplete", f"Date must be in ISO-8601 'basic format'. Got '{auth.amz_date}'. "
                                        "See http://en.wikipedia.org/wiki/ISO_8601") from None
    clock = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    window = dt.timedelta(seconds=MAX_SKEW_S)
    if auth.presigned:
        if auth.expires is not None and clock > signed + dt.timedelta(seconds=auth.expires):
            raise AuthFailure("request_expired", "Request has expired.")
        if signed - clock > window:
            raise AuthFailure("skewed", f"Signature not yet current: {auth.amz_date} is still later than "
                                        f"{_stamp(clock + window)} ({_stamp(clock)} + 15 min.)")
        return
    if clock - signed > window:
        raise AuthFailure("skewed", f"Signature expired: {auth.amz_date} is now earlier than "
                                    f"{_stamp(clock - window)} ({_stamp(clock)} - 15 min.)")
    if signed - clock > window:
        raise AuthFailure("skewed", f"Signature not yet current: {auth.amz_date} is still later than "
                                    f"{_stamp(clock + window)} ({_stamp(clock)} + 15 min.)")


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 over exactly the headers the client signed (its SignedHeaders)."""

    def __init__(self, credentials, service, region, signed: tuple[str, ...], received):
        super().__init__(credentials, service, region)
        self._signed, self._received = signed, received

    def headers_to_sign(self, request):
        out = HTTPHeaders()
        for name in self._signed:
            for value in self._received.getall(name, []):
                out[name] = value
        return out


def expected_signature(auth: Auth, secret: str, method: str, raw_path: str, pairs: list[tuple[str, str]],
                       headers, body: bytes) -> str:
    """The signature AWS would compute for this request with ``secret``."""
    canonical_query = "&".join(sorted(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in pairs
        if name != "X-Amz-Signature"))
    request = AWSRequest(method=method, url=f"http://gate{raw_path}" + (f"?{canonical_query}" if canonical_query else ""),
                         data=body)
    if "X-Amz-Content-SHA256" in headers:  # the client's payload hash, as botocore reads it
        request.headers["X-Amz-Content-SHA256"] = headers["X-Amz-Content-SHA256"]
    request.context["timestamp"] = auth.amz_date
    signer = _ReceivedRequestSigner(Credentials(auth.access_key, secret, auth.token), auth.service,
                                    auth.region, auth.signed_headers, headers)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


_QUERY_AUTH = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                         "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"})


def as_header_signed(auth: Auth, secret: str, token: str | None, method: str, raw_path: str,
                     pairs: list[tuple[str, str]], host: str, body: bytes) -> tuple[str, dict[str, str]]:
    """A verified presigned request re-signed in the header form: (path and query, headers).

    moto's server picks the service from the Authorization header's credential scope and takes
    a request without one for S3; the gate, which has just checked the presigned signature
    with the key's secret, forwards the same call signed the way moto routes it."""
    kept = [(name, value) for name, value in pairs if name not in _QUERY_AUTH]
    query = "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in kept)
    path_qs = raw_path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=f"http://{host}{path_qs}", data=body, headers={"Host": host})
    SigV4Auth(Credentials(auth.access_key, secret, token), auth.service, auth.region).add_auth(request)
    signed = {name: request.headers[name] for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
              if name in request.headers}
    return path_qs, signed


def signature_matches(auth: Auth, expected: str) -> bool:
    return hmac.compare_digest(auth.signature.encode(), expected.encode())
