"""Dependencies: the services a bootstrap calls, as queues with quotas.

A dependency serves calls with ``concurrency`` workers; a call that finds them all busy waits
in a queue (up to ``queue_limit``, then it is rejected). Service time is drawn from
``service_time`` plus ``latency_per_in_flight`` for every call already in service
(load-dependent latency). Each operation may have a token-bucket quota; a call over it is
answered at once with the protocol's real throttling error. ``per_instance_rate`` limits each
instance separately (IMDS: about 1,024 packets/s per instance). ``network`` puts a delay on
the wire each way, outside the service time: the dependency sees a call when it arrives, and
the caller gets the answer one response delay after the dependency sent it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.distributions import DistributionSpec, LogNormal
from sim.units import _DURATION_SCHEMA, Duration

__all__ = ["Dependency", "Network", "Operation", "Quota", "THROTTLE_CODES", "default_protocol"]

# The error a throttled call gets, by protocol: AWS JSON protocol (Secrets Manager, SSM),
# AWS query protocol (STS, IAM), IMDS, and plain HTTP services.
THROTTLE_CODES = {
    "json": "ThrottlingException",
    "query": "Throttling",
    "imds": "TooManyRequestsException",
    "http": "TooManyRequestsException",
}

_PROTOCOL_BY_NAME = {
    "secretsmanager": "json",
    "ssm": "json",
    "sts": "query",
    "iam": "query",
    "imds": "imds",
}


def default_protocol(name: str) -> str:
    return _PROTOCOL_BY_NAME.get(name, "http")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quota(_Model):
    """A token bucket: ``rate`` calls per second, up to ``burst`` at once."""

    rate: float = Field(gt=0, description="Sustained calls per second.")
    burst: float | None = Field(
        None, gt=0, description="Bucket size (calls at once); defaults to one second of rate."
    )

    @property
    def capacity(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate)


class Operation(_Model):
    quota: Quota | None = Field(None, description="Token-bucket quota for this operation.")
    service_time: DistributionSpec | None = Field(
        None, description="Overrides the dependency's service time for this operation."
    )
    bytes: float = Field(0, ge=0, description="Payload bytes per call (downloads; for egress).")
    bandwidth: float | None = Field(
        None, gt=0, description="Bytes per second one call transfers at (adds bytes/bandwidth)."
    )
    conditional_write: bool = Field(
        False,
        description="Compare-and-set write: fails with ConditionalCheckFailed when another "
        "caller's write landed between this call's read (service start) and write (end).",
    )


class Network(_Model):
    """Time on the wire between a client and the dependency, each way (one-way delays, not
    round trips). A scenario may write one distribution for both ways: ``network: 2ms``."""

    request: DistributionSpec = Field(0.0, description="Client to dependency, per attempt.")
    response: DistributionSpec = Field(0.0, description="Dependency to client, per answer.")


def _network_schema(schema: dict) -> None:
    # `_symmetric` accepts one distribution for both ways: tell editors (the JSON Schema) too.
    schema["anyOf"][1:1] = [_DURATION_SCHEMA, {"type": "object", "required": ["kind"]}]


def _default_service_time():
    return LogNormal(kind="lognormal", median=0.01, p99=0.05)


class Dependency(_Model):
    protocol: Literal["json", "query", "imds", "http"] | None = Field(
        None,
        description="Wire protocol, which decides the throttling error (ThrottlingException, "
        "Throttling, TooManyRequestsException). Default from the name: secretsmanager/ssm json, "
        "sts/iam query, imds imds, others http.",
    )
    concurrency: int = Field(
        1000, ge=1, strict=True, description="Calls served at once; more wait in the queue."
    )
    queue_limit: int | None = Field(
        None, ge=0, strict=True, description="Most calls waiting; more are rejected (503). null: unbounded."
    )
    service_time: DistributionSpec = Field(
        default_factory=_default_service_time, description="Time to serve one call."
    )
    latency_per_in_flight: Duration = Field(
        0.0, description="Added to service time for every call already in service."
    )
    per_instance_rate: float | None = Field(
        None, gt=0, description="Calls per second each instance may make (IMDS: 1024)."
    )
    continue_after_timeout: bool = Field(
        True,
        description="Keep working on a call whose caller gave up (real servers do: that "
        "wasted work is what keeps a retry storm going).",
    )
    network: Network | None = Field(
        None,
        description="Network delay each way, outside the service time: `{request: 2ms, "
        "response: 2ms}`, or one distribution for both. null: none (the answer of a fast "
        "error still takes 2ms).",
        json_schema_extra=_network_schema,
    )
    operations: dict[str, Operation] = Field(
        min_length=1, description="Operations the bootstrap may call, by name."
    )

    @field_validator("network", mode="before")
    @classmethod
    def _symmetric(cls, value):
        # One distribution (a duration, or a mapping with `kind`) means the same both ways.
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return {"request": value, "response": value}
        if isinstance(value, dict) and "kind" in value:
            return {"request": value, "response": value}
        return value

    @model_validator(mode="after")
    def _names(self):
        for op in self.operations:
            if not op.replace("_", "").isalnum():
                raise ValueError(f"operation name {op!r} must be letters, digits or _")
        return self
