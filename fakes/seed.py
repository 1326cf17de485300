"""Seed a running moto with what bootstraps fetch: secrets, parameters, roles, a harness key.

Input is plain data (dicts or the small dataclasses here), so the scenario schema can map onto
it without this module knowing that schema. Seeding runs with moto's IAM enforcement off (the
dummy credentials of ``fakes.moto.DUMMY_ENV``); it creates a harness IAM user with full rights
whose key the harness keeps using after ``moto_enforce_iam`` switched enforcement on.

Short credential lifetimes: AWS (and botocore's parameter validation) refuse an AssumeRole
``DurationSeconds`` under 900. moto itself honours any value, so ``issue_role_credentials``
sends the requested duration with client-side validation off and returns moto's Expiration;
the API gate's registered expiration per access key is what enforces it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import boto3
from botocore.config import Config

from fakes.moto import DUMMY_ENV
from sim.errors import InvalidInput

__all__ = [
    "Parameter",
    "RoleSpec",
    "HarnessKey",
    "SeededRole",
    "Seeded",
    "seed",
    "issue_role_credentials",
    "EC2_TRUST_POLICY",
    "ALLOW_ALL_POLICY",
]

EC2_TRUST_POLICY: dict = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ALLOW_ALL_POLICY: dict = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
HARNESS_USER = "bootstorm-harness"
_PARAMETER_TYPES = ("String", "SecureString", "StringList")


@dataclass(frozen=True)
class Parameter:
    value: str
    type: str = "String"


@dataclass(frozen=True)
class RoleSpec:
    """An IAM role an instance runs as; an instance profile of the same name is made for it.

    ``managed_policies`` are customer managed policies created and attached (name -> document);
    ``policy_arns`` attaches policies that already exist.
    """

    name: str
    trust_policy: dict = field(default_factory=lambda: dict(EC2_TRUST_POLICY))
    inline_policies: Mapping[str, dict] = field(default_factory=dict)
    managed_policies: Mapping[str, dict] = field(default_factory=dict)
    policy_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class HarnessKey:
    access_key_id: str
    secret_access_key: str
    user_arn: str


@dataclass(frozen=True)
class SeededRole:
    name: str
    arn: str
    instance_profile_arn: str
    policy_arns: tuple[str, ...]


@dataclass(frozen=True)
class Seeded:
    secret_arns: dict[str, str]
    parameter_names: list[str]
    roles: dict[str, SeededRole]
    harness_key: HarnessKey
    region: str


def _client(service: str, moto_url: str, region: str, key: HarnessKey | None = None, **cfg):
    if key is None:
        creds = dict(
            aws_access_key_id=DUMMY_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
        )
    else:
        creds = dict(aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key)
    return boto3.session.Session().client(
        service,
        endpoint_url=moto_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, **cfg),
        **creds,
    )


def _parameter(name: str, spec: Any) -> Parameter:
    if isinstance(spec, Parameter):
        param = spec
    elif isinstance(spec, str):
        param = Parameter(spec)
    elif isinstance(spec, Mapping) and "value" in spec:
        param = Parameter(str(spec["value"]), str(spec.get("type", "String")))
    else:
        raise InvalidInput(
            f"SSM parameter {name!r}: expected a string, a Parameter or a dict with 'value' "
            f"(and optional 'type'), got {spec!r}"
        )
    if param.type not in _PARAMETER_TYPES:
        raise InvalidInput(
            f"SSM parameter {name!r}: type must be one of {', '.join(_PARAMETER_TYPES)}, "
            f"got {param.type!r}"
        )
    return param


def _role(spec: Any) -> RoleSpec:
    if isinstance(spec, RoleSpec):
        return spec
    if isinstance(spec, Mapping) and "name" in spec:
        known = {"name", "trust_policy", "inline_policies", "managed_policies", "policy_arns"}
        unknown = set(spec) - known
        if unknown:
            raise InvalidInput(
                f"role {spec['name']!r}: unknown keys {sorted(unknown)}; expected some of {sorted(known)}"
            )
        kwargs = dict(spec)
        kwargs["policy_arns"] = tuple(kwargs.get("policy_arns", ()))
        return RoleSpec(**kwargs)
    raise InvalidInput(f"role: expected a RoleSpec or a dict with 'name', got {spec!r}")


def _create_harness_user(iam) -> HarnessKey:
    user = iam.create_user(UserName=HARNESS_USER)["User"]
    iam.put_user_policy(
        UserName=HARNESS_USER, PolicyName="harness-full-rights", PolicyDocument=json.dumps(ALLOW_ALL_POLICY)
    )
    key = iam.create_access_key(UserName=HARNESS_USER)["AccessKey"]
    return HarnessKey(key["AccessKeyId"], key["SecretAccessKey"], user["Arn"])


def _trust_with_harness(trust_policy: dict, harness_arn: str) -> dict:
    """The role's trust policy with the harness user added to every principal.

    The harness stands in for EC2 when it mints role credentials, and moto checks the trust
    policy against the caller: a statement naming only a Service principal fails there.
    """
    policy = json.loads(json.dumps(trust_policy))
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = policy["Statement"] = [statements]
    for statement in statements:
        principal = statement.get("Principal")
        if principal is None:
            continue
        if principal == "*":
            principal = statement["Principal"] = {"AWS": "*"}
        aws = principal.get("AWS", [])
        if aws == "*":
            continue
        aws = [aws] if isinstance(aws, str) else list(aws)
        principal["AWS"] = aws + [harness_arn]
    return policy


def _create_role(iam, spec: RoleSpec, harness_arn: str) -> SeededRole:
    trust = _trust_with_harness(spec.trust_policy, harness_arn)
    arn = iam.create_role(RoleName=spec.name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for policy_name, document in spec.inline_policies.items():
        iam.put_role_policy(RoleName=spec.name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    attached = list(spec.policy_arns)
    for policy_name, document in spec.managed_policies.items():
        policy = iam.create_policy(PolicyName=policy_name, PolicyDocument=json.dumps(document))
        attached.append(policy["Policy"]["Arn"])
    for policy_arn in attached:
        iam.attach_role_policy(RoleName=spec.name, PolicyArn=policy_arn)
    profile = iam.create_instance_profile(InstanceProfileName=spec.name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=spec.name, RoleName=spec.name)
    return SeededRole(spec.name, arn, profile["Arn"], tuple(attached))


def seed(
    moto_url: str,
    *,
    secrets: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    roles: list[Any] | tuple[Any, ...] = (),
    region: str = "us-east-1",
) -> Seeded:
    """Create secrets, SSM parameters, roles (with instance profiles) and the harness user.

    Call before ``moto_enforce_iam``: seeding signs with moto's dummy credentials.
    ``parameters`` values are strings (type String), ``Parameter`` or ``{"value", "type"}``.
    """
    params = {name: _parameter(name, spec) for name, spec in (parameters or {}).items()}
    role_specs = [_role(spec) for spec in roles]
    for name, value in (secrets or {}).items():
        if not isinstance(value, str):
            raise InvalidInput(f"secret {name!r}: expected a string value, got {type(value).__name__}")

    iam = _client("iam", moto_url, region)
    harness_key = _create_harness_user(iam)
    seeded_roles = {spec.name: _create_role(iam, spec, harness_key.user_arn) for spec in role_specs}

    sm = _client("secretsmanager", moto_url, region)
    secret_arns = {
        name: sm.create_secret(Name=name, SecretString=value)["ARN"] for name, value in (secrets or {}).items()
    }
    ssm = _client("ssm", moto_url, region)
    for name, param in params.items():
        ssm.put_parameter(Name=name, Value=param.value, Type=param.type, Overwrite=True)
    return Seeded(secret_arns, list(params), seeded_roles, harness_key, region)


def issue_role_credentials(
    moto_url: str,
    harness_key: HarnessKey,
    role_arn: str,
    duration_s: int,
    *,
    session_name: str = "bootstorm",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """Role credentials from moto STS AssumeRole, valid for ``duration_s`` seconds.

    Returns ``AccessKeyId``, ``SecretAccessKey``, ``Token`` and ``Expiration`` (aware UTC
    datetime), the names IMDS serves them under. Durations under AWS's 900 s minimum are passed
    through (moto honours them); register the key with the gate to enforce the expiration.
    """
    if duration_s <= 0:
        raise InvalidInput(f"role credential duration must be positive seconds, got {duration_s!r}")
    sts = _client("sts", moto_url, region, harness_key, parameter_validation=False)
    asked_at = dt.datetime.now(dt.timezone.utc)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=int(duration_s))[
        "Credentials"
    ]
    expiration = creds["Expiration"].astimezone(dt.timezone.utc)
    intended = asked_at + dt.timedelta(seconds=duration_s)
    # moto computes Expiration from the duration we sent; guard against a moto that clamps it.
    if abs((expiration - intended).total_seconds()) > 5:
        expiration = intended
    return {
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "Token": creds["SessionToken"],
        "Expiration": expiration,
    }
