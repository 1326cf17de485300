"""A scenario operation as the real HTTP request a virtual instance sends, and its answer as a code.

The load engine's virtual instances speak the fakes' real protocols: IMDSv2 (token PUT with a
TTL header, GETs with the token), the AWS JSON and query protocols signed with SigV4 by
botocore (``SigV4Auth``, with the role credentials IMDS issued to that instance: the gate sees
the same signed requests an SDK sends), and the sinks' JSON API. This module builds requests
and reads answers; it sends nothing (the Locust side does), so it is tested without a server.

Operations the fakes can answer (``SUPPORTED``); a scenario calling anything else on a
fake-served dependency is refused before a run starts (`check_operations`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from sim.errors import InvalidInput

__all__ = ["Request", "Answer", "SUPPORTED", "check_operations", "build_request", "read_answer",
           "imds_credentials", "THROTTLING"]

IMDS_OPS = {
    "PutToken": ("PUT", "latest/api/token"),
    "GetCredentials": ("GET", "latest/meta-data/iam/security-credentials/{role}"),
    "ListRoles": ("GET", "latest/meta-data/iam/security-credentials/"),
    "GetIdentity": ("GET", "latest/dynamic/instance-identity/document"),
    "GetIdentityDocument": ("GET", "latest/dynamic/instance-identity/document"),
    "GetUserData": ("GET", "latest/user-data"),
    "GetMetadata": ("GET", "latest/meta-data/instance-id"),
}
# AWS operations: (signing name, protocol, target/Action, parameters from the stack config)
AWS_OPS = {
    ("secretsmanager", "GetSecretValue"): ("secretsmanager", "json", "secretsmanager.GetSecretValue"),
    ("secretsmanager", "DescribeSecret"): ("secretsmanager", "json", "secretsmanager.DescribeSecret"),
    ("ssm", "GetParameter"): ("ssm", "json", "AmazonSSM.GetParameter"),
    ("ssm", "GetParameters"): ("ssm", "json", "AmazonSSM.GetParameters"),
    ("sts", "GetCallerIdentity"): ("sts", "query", "GetCallerIdentity"),
}
SUPPORTED = {
    "imds": tuple(IMDS_OPS),
    "secretsmanager": ("GetSecretValue", "DescribeSecret"),
    "ssm": ("GetParameter", "GetParameters"),
    "sts": ("GetCallerIdentity",),
    "registry": ("Register",),
    "telemetry": ("*",),  # every telemetry operation is one event POSTed to /telemetry
}
THROTTLING = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                        "RequestLimitExceeded"})
# What IMDS and the sinks answer without an AWS error code, as the codes the sim model uses.
_HTTP_CODES = {401: "Unauthorized", 403: "AccessDenied", 429: "TooManyRequestsException",
               500: "InternalError", 503: "ServiceUnavailable", 409: "Conflict"}


@dataclass
class Request:
    method: str
    url: str
    headers: dict
    body: bytes | None


@dataclass
class Answer:
    ok: bool
    code: str | None  # None when ok
    status: int


def check_operations(scenario) -> None:
    """InvalidInput naming each called operation the fakes cannot answer."""
    problems = []
    for i, step in enumerate(scenario.bootstrap.steps):
        if step.call is None:
            continue
        dep, op = step.call.split(".")
        ops = SUPPORTED.get(dep)
        if ops is None:
            problems.append(f"bootstrap.steps.{i}.call: {step.call}: dependency {dep!r} has no real "
                            f"fake (the fakes serve {', '.join(SUPPORTED)})")
        elif "*" not in ops and op not in ops:
            problems.append(f"bootstrap.steps.{i}.call: {step.call}: the {dep} fake answers "
                            f"{', '.join(ops)}; got {op!r}")
    if problems:
        raise InvalidInput("load engine: the fakes cannot answer these calls (run this scenario "
                           "on the sim engine, or change the calls):\n  " + "\n  ".join(problems))


def build_request(dep: str, op: str, base: str, inst, job) -> Request:
    """The request for one attempt. ``inst``: the instance (id, token, credentials);
    ``job``: role, region, secret and parameter names."""
    base = base.rstrip("/")
    if dep == "imds":
        method, path = IMDS_OPS[op]
        url = f"{base}/{inst.instance_id}/{path.format(role=job['role'])}"
        if op == "PutToken":
            return Request("PUT", url, {"X-aws-ec2-metadata-token-ttl-seconds": str(job["token_ttl"])}, None)
        headers = {"X-aws-ec2-metadata-token": inst.token} if inst.token else {}
        return Request(method, url, headers, None)
    if dep == "registry":
        body = json.dumps({"instance_id": inst.instance_id, "idempotency_key": inst.instance_id}).encode()
        return Request("POST", base + "/register", {"Content-Type": "application/json",
                                                    "Idempotency-Key": inst.instance_id}, body)
    if dep == "telemetry":
        body = json.dumps({"instance_id": inst.instance_id, "source": op, "kind": op}).encode()
        return Request("POST", base + "/telemetry", {"Content-Type": "application/json"}, body)
    signing, protocol, target = AWS_OPS[(dep, op)]
    if protocol == "json":
        params = {"GetSecretValue": {"SecretId": job["secret_id"]},
                  "DescribeSecret": {"SecretId": job["secret_id"]},
                  "GetParameter": {"Name": job["parameter"]},
                  "GetParameters": {"Names": [job["parameter"]]}}[op]
        body = json.dumps(params).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    else:
        body = urlencode({"Action": target, "Version": "2011-06-15"}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    # The gate attributes a call to its instance by key, and by this before the key is known.
    headers["User-Agent"] = f"bootstorm-load app/{inst.instance_id}"
    return _signed(Request("POST", base + "/", headers, body), signing, job["region"], inst.credentials)


def _signed(req: Request, service: str, region: str, credentials) -> Request:
    """SigV4 with botocore, the way every SDK signs (no credentials: sent unsigned, and the
    gate or moto answers what AWS answers to an unsigned call)."""
    if credentials is None:
        return req
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    aws = AWSRequest(method=req.method, url=req.url, data=req.body, headers=req.headers)
    SigV4Auth(credentials, service, region).add_auth(aws)
    return Request(req.method, req.url, dict(aws.headers.items()), req.body)


def read_answer(dep: str, status: int, headers, body: bytes) -> Answer:
    """The code of an answer: None when it succeeded, else the AWS error code, or the code the
    sim uses for an HTTP status (``Unauthorized``, ``TooManyRequestsException``...)."""
    if 200 <= status < 300:
        return Answer(True, None, status)
    code = None
    if dep in ("secretsmanager", "ssm", "sts", "iam"):
        code = _aws_code(headers, body)
    if code is None:
        code = _HTTP_CODES.get(status, f"HTTP{status}")
    return Answer(False, code, status)


def _aws_code(headers, body: bytes) -> str | None:
    kind = None
    if headers is not None:
        kind = headers.get("x-amzn-ErrorType") or headers.get("X-Amzn-ErrorType")
    if not kind and body:
        text = body[:2000]
        if text.lstrip().startswith(b"{"):
            try:
                kind = json.loads(text).get("__type")
            except (ValueError, AttributeError):
                kind = None
        else:
            start = text.find(b"<Code>")
            if start >= 0:
                end = text.find(b"</Code>", start)
                kind = text[start + 6:end].decode(errors="replace")
    if not kind:
        return None
    return kind.split(":")[0].split("#")[-1]


def imds_credentials(body: bytes):
    """(botocore Credentials, expiration epoch seconds) from an IMDS credentials document."""
    from botocore.credentials import Credentials

    from fakes.gate.credentials import parse_expiration

    doc = json.loads(body)
    creds = Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("Token"))
    return creds, parse_expiration(doc.get("Expiration"))
