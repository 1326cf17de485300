"""How a scenario file writes a retry policy: pydantic models, one per ``kind``.

``RetrySpec`` is the discriminated union the scenario schema embeds; ``RetryPolicy.from_spec``
(``sim.policies.build``) turns one into a ``RetryPolicy``. Defaults match the real SDKs:
botocore for ``aws_*``, gRPC's connection-backoff document for ``grpc``.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from sim.policies.spec_guards import BudgetSpec, CircuitBreakerSpec, RetryThrottlingSpec
from sim.units import Duration, PositiveDuration

__all__ = [
    "RetrySpec",
    "BudgetSpec",
    "CircuitBreakerSpec",
    "NoRetrySpec",
    "FixedSpec",
    "ExponentialSpec",
    "FullJitterSpec",
    "EqualJitterSpec",
    "DecorrelatedJitterSpec",
    "AwsLegacySpec",
    "AwsStandardSpec",
    "AwsAdaptiveSpec",
    "GrpcSpec",
    "RetryThrottlingSpec",
    "retry_spec_adapter",
]

# `max_attempts: unlimited`: retry until the deadline (the validator insists on one).
# strict: YAML's `true` is not one attempt. No upper bound: 200 attempts is a fair what-if.
Attempts = Union[Annotated[int, Field(ge=1, strict=True)], Literal["unlimited"]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Common(_Model):
    budget: BudgetSpec | None = Field(None, description="Optional retry budget (SRE book style).")
    retry_throttling: RetryThrottlingSpec | None = Field(
        None, description="Optional gRPC-style retry throttling (gRFC A6)."
    )
    circuit_breaker: CircuitBreakerSpec | None = Field(
        None, description="Optional circuit breaker."
    )
    deadline: PositiveDuration | None = Field(
        None,
        description="Time for the whole call, attempts and waits included; "
        "no attempt starts after it.",
    )

    @model_validator(mode="after")
    def _unlimited_needs_deadline(self) -> _Common:
        if getattr(self, "max_attempts", None) == "unlimited" and self.deadline is None:
            raise ValueError(
                "max_attempts: unlimited needs a deadline (e.g. deadline: 5m), or the call "
                "would retry forever; got no deadline"
            )
        return self

    @property
    def attempts_limit(self) -> int | None:
        """``max_attempts`` as a number, None for no limit."""
        n = getattr(self, "max_attempts", 1)
        return None if n == "unlimited" else n


def _max_attempts(default: int) -> Any:
    return Field(
        default,
        description="Attempts in all, the first one included (1 means never retry), or "
        "`unlimited` (only with a `deadline`). Like botocore's total_max_attempts and "
        "AWS_MAX_ATTEMPTS; boto3's Config(retries={'max_attempts': N}) counts retries, so "
        "write N+1 here.",
    )


class NoRetrySpec(_Common):
    """One attempt, never retried."""

    kind: Literal["none"] = Field(description="No retries.")


class FixedSpec(_Common):
    """The same delay before every retry."""

    kind: Literal["fixed"] = Field(description="Fixed delay between attempts.")
    max_attempts: Attempts = _max_attempts(3)
    delay: Duration = Field(1.0, description="Wait before each retry, e.g. 500ms.")


class ExponentialSpec(_Common):
    """``min(cap, base * multiplier**n)`` before retry n (0-based), no jitter."""

    kind: Literal["exponential"] = Field(description="Capped exponential backoff without jitter.")
    max_attempts: Attempts = _max_attempts(3)
    base: Duration = Field(1.0, description="Delay before the first retry.")
    multiplier: float = Field(2.0, ge=1.0, le=10.0, description="Growth factor per retry.")
    cap: Duration = Field(20.0, description="Longest delay.")


class FullJitterSpec(ExponentialSpec):
    """``uniform(0, min(cap, base * multiplier**n))`` (AWS Architecture Blog, full jitter)."""

    kind: Literal["full_jitter"] = Field(description="Exponential backoff with full jitter.")


class EqualJitterSpec(ExponentialSpec):
    """``t/2 + uniform(0, t/2)`` with ``t = min(cap, base * multiplier**n)``."""

    kind: Literal["equal_jitter"] = Field(description="Exponential backoff with equal jitter.")


class DecorrelatedJitterSpec(_Common):
    """``min(cap, uniform(base, previous * 3))`` (AWS Architecture Blog, decorrelated jitter)."""

    kind: Literal["decorrelated_jitter"] = Field(description="Decorrelated jitter backoff.")
    max_attempts: Attempts = _max_attempts(3)
    base: Duration = Field(1.0, description="Shortest delay, and the first 'previous' delay.")
    cap: Duration = Field(20.0, description="Longest delay.")


class AwsLegacySpec(_Common):
    """botocore legacy mode: ``rand * 2**n`` seconds, no cap, no retry quota, 5 attempts."""

    kind: Literal["aws_legacy"] = Field(
        description="AWS SDK legacy retry mode (botocore _retry.json)."
    )
    max_attempts: Attempts = _max_attempts(5)


class AwsStandardSpec(_Common):
    """botocore standard mode: ``rand * min(2**n, 20)`` seconds, 3 attempts, a retry quota.

    ``new_retries_2026`` models botocore's opt-in revision (``AWS_NEW_RETRIES_2026=true``):
    throttles back off from 1s and cost 5, other errors back off from 50ms and cost 14.
    """

    kind: Literal["aws_standard"] = Field(description="AWS SDK standard retry mode.")
    max_attempts: Attempts = _max_attempts(3)
    max_backoff: Duration = Field(20.0, description="Longest delay (botocore MAX_BACKOFF).")
    retry_quota: int = Field(
        500, ge=0, description="Retry quota capacity per client (botocore INITIAL_CAPACITY)."
    )
    retry_quota_initial: int | None = Field(
        None,
        ge=0,
        description="Quota a new client starts with; null: full, as every AWS SDK does.",
    )
    retry_cost: int = Field(
        5, ge=0, description="Quota a retry takes (14 by default with new_retries_2026)."
    )
    timeout_retry_cost: int = Field(
        10,
        ge=0,
        description="Quota a retry after a connect/read timeout takes "
        "(14 by default with new_retries_2026).",
    )
    throttle_retry_cost: int | None = Field(
        None,
        ge=0,
        description="Quota a retry after a throttling error takes "
        "(null: same as retry_cost, or 5 with new_retries_2026).",
    )
    success_refund: int = Field(
        1, ge=0, description="Quota a call that succeeds at its first attempt puts back."
    )
    new_retries_2026: bool = Field(
        False,
        description="botocore's opt-in 2026 standard mode: non-throttling errors back off "
        "from 50ms "
        "instead of 1s and cost 14 quota; throttles back off from 1s and cost 5.",
    )

    @model_validator(mode="after")
    def _initial_fits(self) -> AwsStandardSpec:
        initial = self.retry_quota_initial
        if initial is not None and initial > self.retry_quota:
            raise ValueError(
                f"expected retry_quota_initial <= retry_quota ({self.retry_quota}), got {initial}"
            )
        return self


class AwsAdaptiveSpec(AwsStandardSpec):
    """Standard mode plus botocore's client-side rate limiter (CUBIC, reacts to throttles)."""

    kind: Literal["aws_adaptive"] = Field(description="AWS SDK adaptive retry mode.")


class GrpcSpec(_Common):
    """gRPC connection backoff: 1s, x1.6, ±20% jitter, at most 120s, retried without limit."""

    kind: Literal["grpc"] = Field(description="gRPC connection backoff.")
    max_attempts: Attempts | None = Field(
        None,
        description="Attempts in all; null (the default) reconnects forever, as gRPC channels "
        "do (`unlimited` says the same but needs a deadline).",
    )
    initial_backoff: Duration = Field(1.0, description="Gap between the first two attempt starts.")
    multiplier: float = Field(1.6, ge=1.0, le=10.0, description="Growth factor per attempt.")
    jitter: float = Field(
        0.2, ge=0.0, le=1.0, description="Each gap is randomised by ± this share."
    )
    max_backoff: Duration = Field(120.0, description="Longest gap before jitter.")
    min_connect_timeout: Duration = Field(
        20.0, description="Least time a connection attempt is given."
    )


RetrySpec = Annotated[
    Union[
        NoRetrySpec,
        FixedSpec,
        ExponentialSpec,
        FullJitterSpec,
        EqualJitterSpec,
        DecorrelatedJitterSpec,
        AwsLegacySpec,
        AwsStandardSpec,
        AwsAdaptiveSpec,
        GrpcSpec,
    ],
    Field(discriminator="kind"),
]


@cache
def retry_spec_adapter() -> TypeAdapter:
    """A pydantic ``TypeAdapter`` for ``RetrySpec`` (validation, JSON Schema)."""
    return TypeAdapter(RetrySpec)
