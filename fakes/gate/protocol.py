"""What an AWS API request is, and how AWS says no, in each wire protocol.

Two protocols matter for the services moto serves us: JSON (Secrets Manager, SSM: operation in
the ``X-Amz-Target`` header, errors as ``{"__type", "message"}`` plus ``x-amzn-ErrorType``) and
query (STS, IAM: ``Action=`` in a form body, errors as an XML ``ErrorResponse``). The error codes
and HTTP statuses below are the ones AWS sends and botocore's parsers and retry handlers read:
``ThrottlingException``/``Throttling`` are throttling errors for its retry modes, 5xx statuses are
transient errors.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

__all__ = [
    "INSTANCE_HEADER",
    "Call",
    "identify",
    "Failure",
    "FAILURES",
    "error_body",
    "error_code_of",
    "json_error_from_xml",
]

JSON, QUERY, UNKNOWN = "json", "query", "unknown"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_APP_ID = re.compile(r"(?:^|\s)app/([A-Za-z0-9._:-]+)")
_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")
# Services whose X-Amz-Target prefix is not their signing name, for unsigned requests.
_TARGET_PREFIX_SERVICE = {"AmazonSSM": "ssm", "secretsmanager": "secretsmanager"}
_QUERY_VERSION_SERVICE = {"2011-06-15": "sts", "2010-05-08": "iam"}
INSTANCE_HEADER = "X-Bootstorm-Instance-Id"


@dataclass(slots=True)
class Call:
    """One request as the gate sees it; ``instance_id`` may be filled in later from its key."""

    protocol: str
    service: str
    operation: str
    access_key: str | None
    instance_id: str | None


def identify(method: str, query_string: str, headers, body: bytes) -> Call:
    """Service, operation, access key and (if the request names it) instance of a request."""
    access_key = service = None
    auth = headers.get("Authorization")
    if auth is None and "X-Amz-Credential" in query_string:  # presigned URL
        auth = "Credential=" + dict(parse_qsl(query_string)).get("X-Amz-Credential", "")
    if auth:
        m = _CREDENTIAL.search(auth)
        if m:
            access_key, service = m.group(1), m.group(3)
    instance_id = headers.get(INSTANCE_HEADER)
    if instance_id is None:
        m = _APP_ID.search(headers.get("User-Agent", ""))
        if m:
            instance_id = m.group(1)
    target = headers.get("X-Amz-Target")
    if target:
        prefix, _, operation = target.rpartition(".")
        service = service or _TARGET_PREFIX_SERVICE.get(prefix, prefix.lower())
        return Call(JSON, service, operation, access_key, instance_id)
    form: dict[str, str] = {}
    if body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
    elif method == "GET" and "Action=" in query_string:
        form = dict(parse_qsl(query_string))
    if "Action" in form:
        service = service or _QUERY_VERSION_SERVICE.get(form.get("Version", ""), "unknown")
        return Call(QUERY, service, form["Action"], access_key, instance_id)
    return Call(UNKNOWN, service or "unknown", method, access_key, instance_id)


@dataclass(frozen=True)
class Failure:
    """How AWS answers one kind of failure, per protocol: (status, code) and the message."""

    json: tuple[int, str]
    query: tuple[int, str]
    message: str


FAILURES: dict[str, Failure] = {
    "throttled": Failure((400, "ThrottlingException"), (400, "Throttling"), "Rate exceeded"),
    "internal": Failure(
        (500, "InternalFailure"),
        (500, "InternalError"),
        "The request processing has failed because of an unknown error, exception or failure.",
    ),
    "unavailable": Failure(
        (503, "ServiceUnavailable"), (503, "ServiceUnavailable"), "Service is unable to handle request."
    ),
    "denied": Failure(
        (400, "AccessDeniedException"), (403, "AccessDenied"), "User: {principal} is not authorized to perform: {action}"
    ),
    "expired": Failure(
        (400, "ExpiredTokenException"), (400, "ExpiredToken"), "The security token included in the request is expired"
    ),
    # Authentication (fakes.gate.sigv4): JSON services answer 400 with ...Exception codes,
    # the query services (STS, IAM) their own codes, 403 where AWS's common errors say so.
    "missing": Failure(
        (400, "MissingAuthenticationTokenException"), (403, "MissingAuthenticationToken"),
        "Request is missing Authentication Token",
    ),
    "incomplete": Failure(
        (400, "IncompleteSignatureException"), (400, "IncompleteSignature"),
        "The request signature does not conform to AWS standards.",
    ),
    "invalid_token": Failure(
        (400, "UnrecognizedClientException"), (403, "InvalidClientTokenId"),
        "The security token included in the request is invalid.",
    ),
    "bad_signature": Failure(
        (400, "InvalidSignatureException"), (403, "SignatureDoesNotMatch"),
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details.",
    ),
    "skewed": Failure(  # the message says which way and by how much (sigv4.check_clock)
        (400, "InvalidSignatureException"), (403, "SignatureDoesNotMatch"), "Signature expired"
    ),
    "request_expired": Failure((400, "RequestExpired"), (400, "RequestExpired"), "Request has expired."),
}


def error_body(failure: str, call: Call, message: str | None = None) -> tuple[int, str, dict[str, str], bytes]:
    """(status, code, headers, body) of the AWS error ``failure`` for this call's protocol."""
    spec = FAILURES[failure]
    request_id = str(uuid.uuid4())
    if message is None:
        message = spec.message.format(
            principal=call.access_key or "anonymous", action=f"{call.service}:{call.operation}"
        )
    if call.protocol == QUERY:
        status, code = spec.query
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return status, code, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    status, code = spec.json
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": request_id,
    }
    return status, code, headers, json.dumps({"__type": code, "message": message}).encode()


def error_code_of(headers, body: bytes) -> str | None:
    """The AWS error code of an error response from upstream, as botocore would read it."""
    error_type = headers.get("x-amzn-ErrorType")
    if error_type:
        return error_type.split(":", 1)[0].rsplit("#", 1)[-1]
    if body[:1] == b"{":
        try:
            code = json.loads(body).get("__type")
        except (ValueError, AttributeError):
            code = None
        if isinstance(code, str):
            return code.split(":", 1)[0].rsplit("#", 1)[-1]
        return None
    m = _XML_CODE.search(body)
    return m.group(1).decode("utf-8", "replace") if m else None


# moto answers authentication and authorization failures of JSON-protocol services with the
# query protocol's XML 403; AWS answers them as JSON 400 with these codes.
_JSON_AUTH_ERRORS = {
    b"AccessDenied": "AccessDeniedException",
    b"InvalidClientTokenId": "UnrecognizedClientException",
    b"SignatureDoesNotMatch": "InvalidSignatureException",
}


def json_error_from_xml(body: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """The AWS-shaped JSON answer for moto's XML auth error, or None for any other body."""
    m = _XML_CODE.search(body)
    code = _JSON_AUTH_ERRORS.get(m.group(1)) if m else None
    if code is None:
        return None
    msg = _XML_MESSAGE.search(body)
    message = msg.group(1).decode("utf-8", "replace") if msg else code
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return 400, headers, json.dumps({"__type": code, "message": message}).encode()
