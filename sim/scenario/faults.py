"""Faults on a timeline: what goes wrong, where, when, for how long.

``target`` is a dependency (``secretsmanager``), one operation (``secretsmanager.GetSecretValue``)
or, for ``expire_credentials``, ``instances`` (every instance's role credentials) or ``imds``
(tokens). The same fault names drive every engine: the sim engine models them, the exec and
load engines apply them to the fakes.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from sim.scenario.dependencies import Quota
from sim.units import Duration, PositiveDuration

__all__ = ["FaultSpec", "FAULT_KINDS"]


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    at: Duration = Field(description="When the fault starts (from the run's start).")
    for_: PositiveDuration | None = Field(
        None, alias="for", description="How long it lasts; null: until the end of the run."
    )
    target: str = Field(description="dependency, dependency.Operation, or instances.")

    @property
    def end(self) -> float:
        return float("inf") if self.for_ is None else self.at + self.for_


class Partition(_Fault):
    """Calls get no answer: they hang until the caller's timeout (or forever without one)."""

    kind: Literal["partition"]


class Outage(_Fault):
    """Calls fail fast with 503 ServiceUnavailable."""

    kind: Literal["outage"]


class ErrorRate(_Fault):
    """A share of calls fail with 500 InternalError."""

    kind: Literal["error_rate"]
    rate: float = Field(gt=0, le=1, description="Share of calls that fail.")


class Latency(_Fault):
    """Every call takes this much longer."""

    kind: Literal["latency"]
    latency: PositiveDuration = Field(description="Added to each call.")


class Throttle(_Fault):
    """The operation's quota changes to this (e.g. a noisy neighbour eats the account's share)."""

    kind: Literal["throttle"]
    quota: Quota = Field(description="The quota while the fault lasts.")


class Deny(_Fault):
    """Calls fail with AccessDenied (not retryable): an IAM change shipped with a deploy."""

    kind: Literal["deny"]


class ExpireCredentials(_Fault):
    """Credentials (target instances) or IMDS tokens (target imds) issued before `at` expire."""

    kind: Literal["expire_credentials"]


class SlowBandwidth(_Fault):
    """Transfers run `factor` times slower (downloads, artifact stores)."""

    kind: Literal["slow_bandwidth"]
    factor: float = Field(gt=1, description="Slow-down factor of transfer and service time.")


class Reset(_Fault):
    """Connections are reset: calls fail fast with a connection error (retryable)."""

    kind: Literal["reset"]


FaultSpec = Annotated[
    Union[Partition, Outage, ErrorRate, Latency, Throttle, Deny, ExpireCredentials, SlowBandwidth, Reset],
    Field(discriminator="kind"),
]
FAULT_KINDS = (
    "partition", "outage", "error_rate", "latency", "throttle", "deny", "expire_credentials",
    "slow_bandwidth", "reset",
)
