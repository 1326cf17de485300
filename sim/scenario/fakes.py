"""What the real fakes hold for a scenario: secrets, parameters, the instance role.

Only the exec and load engines (and ``bootstorm fakes up``) use this; the sim engine ignores
it. Secret values the harness plants are generated at random unless given, so that a leak of
one into a log or a world-readable file can be detected without ever printing it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FakesSpec", "RoleSpec"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSpec(_Model):
    name: str = Field("bootstrap-role", description="Instance role name (IMDS iam/security-credentials/<name>).")
    actions: list[str] = Field(
        default_factory=lambda: ["secretsmanager:GetSecretValue", "ssm:GetParameter",
                                 "ssm:GetParameters", "sts:GetCallerIdentity"],
        description="IAM actions the role's policy allows (on every resource).",
    )


class FakesSpec(_Model):
    secrets: dict[str, str | None] = Field(
        default_factory=lambda: {"app/db-password": None},
        description="Secrets Manager secrets by name; null: a random value the harness plants.",
    )
    parameters: dict[str, str] = Field(
        default_factory=lambda: {"/app/config": '{"feature": true}'},
        description="SSM parameters by name.",
    )
    role: RoleSpec = Field(default_factory=RoleSpec, description="The instance role.")
    region: str = Field("us-east-1", description="Region the fakes answer for.")
    enforce_iam: bool = Field(
        False, description="Switch on moto's IAM enforcement (real AccessDenied from policies)."
    )
