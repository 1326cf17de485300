"""How a scenario file writes the guards around retries: a retry budget, gRPC retry
throttling, a circuit breaker. Each maps onto one class of ``sim.policies`` (``RetryBudget``,
``RetryThrottle``, ``CircuitBreaker``); docs/scenario-format.md cites what each follows."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.units import PositiveDuration

__all__ = ["BudgetSpec", "RetryThrottlingSpec", "CircuitBreakerSpec"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _InitialFill(_Model):
    """A token bucket with ``max_tokens`` that a new client finds ``initial_tokens`` full."""

    @model_validator(mode="after")
    def _initial_fits(self):
        if self.initial_tokens != "full" and not 0 <= self.initial_tokens <= self.max_tokens:
            raise ValueError(
                f"expected initial_tokens between 0 and max_tokens ({self.max_tokens:g}) or "
                f"`full`, got {self.initial_tokens!r}"
            )
        return self

    @property
    def initial(self) -> float:
        return self.max_tokens if self.initial_tokens == "full" else float(self.initial_tokens)


class BudgetSpec(_InitialFill):
    """A retry budget: retries limited to a share of this client's requests."""

    ratio: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Retry tokens each request earns; 0.1 keeps retries under 10% of requests.",
    )
    min_per_second: float = Field(
        1.0,
        ge=0.0,
        description="Retries per second allowed whatever the ratio, so a quiet client can retry.",
    )
    max_tokens: float = Field(
        10.0, ge=1.0, description="Most retry tokens a client can save up from past requests."
    )
    initial_tokens: float | Literal["full"] = Field(
        0.0,
        description="Tokens a new client starts with: 0 (the default: nothing earned yet, "
        "SRE book / Finagle), a number up to max_tokens, or `full`.",
    )


class RetryThrottlingSpec(_InitialFill):
    """gRPC retry throttling (gRFC A6 ``retryThrottling``): one token bucket per client."""

    max_tokens: float = Field(
        10.0, gt=0.0, le=1000.0, description="gRPC maxTokens (the A6 example: 10; at most 1000)."
    )
    token_ratio: float = Field(
        0.1, gt=0.0, le=1.0, description="gRPC tokenRatio: tokens a successful attempt puts back."
    )
    initial_tokens: float | Literal["full"] = Field(
        "full",
        description="Tokens a new client starts with: `full` (gRPC: max_tokens) or a number.",
    )


class CircuitBreakerSpec(_Model):
    """A circuit breaker per client: stop calling a dependency that keeps failing."""

    failure_threshold: int | None = Field(
        5, ge=1, description="Open after this many retryable failures in a row (null: off)."
    )
    failure_rate: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Open when this share of the last `window` attempts failed (null: off).",
    )
    window: int = Field(20, ge=1, description="How many recent attempts `failure_rate` looks at.")
    min_calls: int = Field(
        10,
        ge=1,
        description="Attempts needed in the window before `failure_rate` can open the breaker.",
    )
    open_for: PositiveDuration = Field(
        30.0, description="How long the breaker stays open before letting probes through."
    )
    half_open_probes: int = Field(
        1,
        ge=1,
        description="Probes let through when half-open; this many successes close the breaker.",
    )
    blocks: Literal["all", "retries"] = Field(
        "all",
        description="all: an open breaker refuses every attempt (Hystrix, resilience4j); "
        "retries: it refuses only retries and a first attempt always goes out (Envoy's "
        "max_retries breaker, gRPC retry throttling).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CircuitBreakerSpec:
        if self.failure_threshold is None and self.failure_rate is None:
            raise ValueError("expected failure_threshold or failure_rate (or both), got neither")
        if self.min_calls > self.window:
            raise ValueError(
                "expected min_calls <= window, "
                f"got min_calls={self.min_calls}, window={self.window}"
            )
        return self
