"""What a stack holds: secrets, parameters, the instance role, region, IAM enforcement.

Built from a `Scenario` (its ``fakes`` section), a `FakesSpec`, a plain dict of the same
fields, or nothing (the FakesSpec defaults). Secrets given as None get a random value here,
once, so the harness can later look for that exact value in logs and files (leak detection)
without the value ever being written anywhere by the harness itself.
"""

from __future__ import annotations

import secrets as _secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

from sim.errors import InvalidInput

__all__ = ["StackConfig", "planted_value"]

_FIELDS = ("secrets", "parameters", "role", "region", "enforce_iam")


def planted_value() -> str:
    """A random secret value, long and distinctive enough that finding it anywhere is a leak."""
    return "bs-" + _secrets.token_urlsafe(24)


@dataclass(frozen=True)
class StackConfig:
    secrets: dict[str, str] = field(default_factory=dict)  # every value filled in
    parameters: dict[str, str] = field(default_factory=dict)
    role_name: str = "bootstrap-role"
    role_actions: tuple[str, ...] = ()
    region: str = "us-east-1"
    enforce_iam: bool = False
    seed: int = 0

    @classmethod
    def of(cls, source: Any = None) -> "StackConfig":
        """From a Scenario, a FakesSpec, a dict of FakesSpec fields, a StackConfig or None."""
        if isinstance(source, StackConfig):
            return source
        from sim.scenario.fakes import FakesSpec

        seed = 0
        if source is None:
            spec = FakesSpec()
        elif isinstance(source, FakesSpec):
            spec = source
        elif isinstance(source, Mapping):
            unknown = set(source) - set(_FIELDS)
            if unknown:
                raise InvalidInput(f"fakes config: unknown keys {sorted(unknown)}; expected some of {list(_FIELDS)}")
            try:
                spec = FakesSpec.model_validate(dict(source))
            except ValueError as exc:
                raise InvalidInput(f"fakes config: {exc}") from None
        elif hasattr(source, "fakes") and isinstance(getattr(source, "fakes"), FakesSpec):
            spec, seed = source.fakes, int(source.run.seed)
        else:
            raise InvalidInput(
                f"a stack needs a Scenario, a FakesSpec, a dict of its fields or None, got {type(source).__name__}"
            )
        return cls(
            secrets={name: (value if value is not None else planted_value()) for name, value in spec.secrets.items()},
            parameters=dict(spec.parameters),
            role_name=spec.role.name,
            role_actions=tuple(spec.role.actions),
            region=spec.region,
            enforce_iam=spec.enforce_iam,
            seed=seed,
        )

    def role_policy(self) -> dict:
        """The role's inline policy: ``role_actions`` allowed on every resource."""
        statement: list[dict] = []
        if self.role_actions:
            statement.append({"Effect": "Allow", "Action": list(self.role_actions), "Resource": "*"})
        return {"Version": "2012-10-17", "Statement": statement}

    def __repr__(self) -> str:  # never show secret values in a traceback or a log
        return (
            f"StackConfig(secrets={sorted(self.secrets)}, parameters={sorted(self.parameters)}, "
            f"role_name={self.role_name!r}, region={self.region!r}, enforce_iam={self.enforce_iam})"
        )
