"""Helpers for the IMDS tests: raw HTTP calls, polling, scrubbed environments, moto roles.

The servers themselves (moto, IMDS, sinks) are fixtures of ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from typing import Callable

import pytest

__all__ = [
    "imds_call",
    "token",
    "scrubbed_env",
    "create_role",
    "wait_until",
    "moto_client",
    "ROLE",
    "TTL_HEADER",
    "TOKEN_HEADER",
]

ROLE = "app-role"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def imds_call(base_url: str, method: str, path: str, headers: dict | None = None,
              timeout: float = 30.0) -> tuple[int, dict, str]:
    """One raw HTTP request (a fresh connection, like curl): (status, headers, body)."""
    url = urllib.parse.urlsplit(base_url.rstrip("/") + "/" + path.lstrip("/"))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request(method, url.path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def token(base_url: str, ttl: int = 300) -> str:
    """An IMDSv2 session token from ``base_url`` (an instance's listener or base path)."""
    status, _, body = imds_call(base_url, "PUT", "/latest/api/token", {TTL_HEADER: str(ttl)})
    assert status == 200, body
    return body


def wait_until(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:.0f}s")
        time.sleep(interval)


def scrubbed_env(home: str, **extra: str) -> dict[str, str]:
    """An environment with no AWS_* variables and an empty home, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=home,
        AWS_CONFIG_FILE=os.path.join(home, "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "aws-credentials"),
    )
    env.update(extra)
    return env


def moto_client(moto_url: str, service: str, **creds):
    import boto3

    creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.session.Session().client(service, endpoint_url=moto_url, region_name="us-east-1", **creds)


def create_role(moto_url: str, name: str = ROLE, trusted_arn: str | None = None) -> str:
    """A role EC2 may assume; ``trusted_arn`` also lets that IAM principal assume it, which moto
    requires of the caller once it enforces IAM."""
    iam = moto_client(moto_url, "iam")
    trust = json.loads(json.dumps(_TRUST))
    if trusted_arn:
        trust["Statement"][0]["Principal"]["AWS"] = trusted_arn
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
