"""From a scenario's retry spec to a ``RetryPolicy``: which schedule, quota and limiter each
``kind`` means, with the SDKs' constants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sim.errors import InvalidScenario, Problem
from sim.policies.backoff import (
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
    GrpcBackoff,
    NoBackoff,
)
from sim.policies.controller import RetryPolicy
from sim.policies.spec import AwsStandardSpec, _Common, retry_spec_adapter

__all__ = ["build_policy"]


def _validate(spec: Mapping[str, Any]) -> Any:
    try:
        return retry_spec_adapter().validate_python(dict(spec))
    except ValidationError as exc:
        problems = [
            Problem(
                ".".join(str(p) for p in err["loc"]), f"{err['msg']} (got {err.get('input')!r})"
            )
            for err in exc.errors()
        ]
        raise InvalidScenario(None, problems) from None


def build_policy(spec: Any) -> RetryPolicy:
    """The ``RetryPolicy`` for a validated spec model, or for a mapping (validated here)."""
    if isinstance(spec, Mapping):
        spec = _validate(spec)
    if not isinstance(spec, _Common):
        raise TypeError(f"expected a RetrySpec model or a mapping, got {type(spec).__name__}")
    budget, throttling = spec.budget, spec.retry_throttling
    common: dict[str, Any] = {
        "budget": (
            (budget.ratio, budget.min_per_second, budget.max_tokens, budget.initial)
            if budget
            else None
        ),
        "throttle": (
            (throttling.max_tokens, throttling.token_ratio, throttling.initial)
            if throttling
            else None
        ),
        "breaker": spec.circuit_breaker.model_dump() if spec.circuit_breaker else None,
        "deadline": spec.deadline,
    }
    kind = spec.kind
    if kind == "none":
        return RetryPolicy(kind=kind, backoff=NoBackoff(), max_attempts=1, **common)
    if kind == "fixed":
        return RetryPolicy(
            kind=kind, backoff=FixedBackoff(spec.delay), max_attempts=spec.attempts_limit, **common
        )
    if kind in ("exponential", "full_jitter", "equal_jitter"):
        cls = {
            "exponential": ExponentialBackoff,
            "full_jitter": FullJitterBackoff,
            "equal_jitter": EqualJitterBackoff,
        }[kind]
        backoff = cls(spec.base, spec.multiplier, spec.cap)
        return RetryPolicy(kind=kind, backoff=backoff, max_attempts=spec.attempts_limit, **common)
    if kind == "decorrelated_jitter":
        backoff = DecorrelatedJitterBackoff(spec.base, spec.cap)
        return RetryPolicy(kind=kind, backoff=backoff, max_attempts=spec.attempts_limit, **common)
    if kind == "aws_legacy":
        # _retry.json: base "rand", growth factor 2, and no upper bound on the delay.
        backoff = FullJitterBackoff(1.0, 2.0, float("inf"))
        return RetryPolicy(
            kind=kind,
            backoff=backoff,
            max_attempts=spec.attempts_limit,
            legacy_classification=True,
            **common,
        )
    if kind in ("aws_standard", "aws_adaptive"):
        return _aws_standard(spec, common)
    if kind == "grpc":
        backoff = GrpcBackoff(spec.initial_backoff, spec.multiplier, spec.jitter, spec.max_backoff)
        return RetryPolicy(
            kind=kind,
            backoff=backoff,
            max_attempts=spec.attempts_limit,
            min_attempt_timeout=spec.min_connect_timeout,
            **common,
        )
    raise AssertionError(f"unhandled retry kind {kind!r}")  # the union above lists every kind


def _aws_standard(spec: AwsStandardSpec, common: dict[str, Any]) -> RetryPolicy:
    throttle_backoff = FullJitterBackoff(1.0, 2.0, spec.max_backoff)
    retry_cost, timeout_cost, throttle_cost = (
        spec.retry_cost,
        spec.timeout_retry_cost,
        spec.throttle_retry_cost,
    )
    if spec.new_retries_2026:
        backoff = FullJitterBackoff(0.05, 2.0, spec.max_backoff)
        explicit = spec.model_fields_set
        retry_cost = retry_cost if "retry_cost" in explicit else 14
        timeout_cost = timeout_cost if "timeout_retry_cost" in explicit else 14
        throttle_cost = throttle_cost if throttle_cost is not None else 5
    else:
        backoff = throttle_backoff
        throttle_cost = throttle_cost if throttle_cost is not None else retry_cost
    return RetryPolicy(
        kind=spec.kind,
        backoff=backoff,
        throttle_backoff=throttle_backoff,
        max_attempts=spec.attempts_limit,
        quota=(spec.retry_quota, retry_cost, timeout_cost, spec.success_refund, throttle_cost,
               spec.retry_quota_initial),
        adaptive=spec.kind == "aws_adaptive",
        **common,
    )
