"""Fixtures for the gate tests: one real moto and one real gate process per test module.

Imported by name into each ``test_gate_*`` module (there is no conftest for them). Each test
gets a clean moto (reset, IAM enforcement off), a clean gate (rules, keys, log) and fresh seed
data; ``boto_client`` builds boto3 clients that talk to the gate as their endpoint.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from fakes.gate import GateClient, start_gate
from fakes.moto import DUMMY_ENV, moto_enforce_iam, moto_reset, start_moto
from fakes.seed import RoleSpec, Seeded, seed

__all__ = ["moto_server", "gate_server", "gate", "seeded", "boto_client", "SECRET", "PARAMETER", "READER_ROLE"]

SECRET = ("app/db-password", "s3cr3t")
PARAMETER = ("/app/config", "mode=prod")
READER_ROLE = "secret-reader"
REGION = "us-east-1"
SECRET_READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "sts:GetCallerIdentity"], "Resource": "*"}],
}

DESCRIBE_PARAMETERS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def moto_server():
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gate_server(moto_server):
    server = start_gate(moto_server.url)
    yield server
    server.stop()


@pytest.fixture
def gate(gate_server) -> GateClient:
    client = GateClient(gate_server.url)
    client.reset()
    # moto's dummy key is no key AWS (or moto's IAM) knows: the gate must be told its secret.
    client.register_key(DUMMY_ENV["AWS_ACCESS_KEY_ID"], secret_key=DUMMY_ENV["AWS_SECRET_ACCESS_KEY"])
    return client


@pytest.fixture
def seeded(moto_server, gate) -> Seeded:
    moto_enforce_iam(moto_server.url, False)
    moto_reset(moto_server.url)
    result = seed(
        moto_server.url,
        secrets={SECRET[0]: SECRET[1]},
        parameters={PARAMETER[0]: PARAMETER[1], "/app/token": {"value": "t0k", "type": "SecureString"}},
        roles=[
            RoleSpec(
                READER_ROLE,
                inline_policies={"read": SECRET_READ_POLICY},
                managed_policies={"describe-parameters": DESCRIBE_PARAMETERS_POLICY},
            )
        ],
        region=REGION,
    )
    yield result
    moto_enforce_iam(moto_server.url, False)


@pytest.fixture
def boto_client(gate_server):
    """``boto_client(service, key=None, token=None, **config)``: a boto3 client via the gate."""

    def make(service: str, key: str | None = None, secret: str | None = None, token: str | None = None, **config):
        config.setdefault("retries", {"mode": "standard", "total_max_attempts": 1})
        return boto3.session.Session().client(
            service,
            endpoint_url=gate_server.url,
            region_name=REGION,
            aws_access_key_id=key or DUMMY_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret or DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=token,
            config=Config(**config),
        )

    return make
