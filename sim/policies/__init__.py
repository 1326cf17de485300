"""Retry policies: pure math shared by the SimPy engine, the reference bootstraps and Locust.

Which one to pick:
- ``aws_legacy`` for a boto3 client left at its defaults (botocore still defaults to legacy);
  ``aws_standard`` for the AWS CLI v2, the other SDKs, or boto3 with ``retry_mode=standard``;
  ``aws_adaptive`` when clients should slow themselves down under throttling.
- ``full_jitter`` (or ``decorrelated_jitter``) for your own HTTP calls: jitter spreads a
  synchronised fleet; plain ``exponential`` and ``fixed`` exist to show why jitter matters.
- ``grpc`` for gRPC channel reconnects (retries without limit unless ``max_attempts`` is set).
- Add ``budget`` to keep retries near 10% of requests under a wide outage (or
  ``retry_throttling`` for gRPC's token bucket), ``circuit_breaker`` to stop calling a
  dependency that keeps failing (``blocks: retries`` to stop only its retries), ``deadline`` to
  bound the whole call.

No I/O, no clock reads, no module-level random state: callers pass ``now`` (seconds) and a
``random.Random``. See ``controller`` for the call protocol.
"""

from sim.policies.adaptive import AdaptiveRateLimiter
from sim.policies.backoff import (
    Backoff,
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
    GrpcBackoff,
    NoBackoff,
)
from sim.policies.breaker import CircuitBreaker
from sim.policies.build import build_policy
from sim.policies.classify import ErrorClass, classify
from sim.policies.controller import GIVE_UP, GIVE_UP_REASONS, Call, ClientState, GiveUp, RetryPolicy
from sim.policies.quota import RetryBudget, RetryQuota
from sim.policies.throttle import RetryThrottle
from sim.policies.spec import (
    AwsAdaptiveSpec,
    AwsLegacySpec,
    AwsStandardSpec,
    BudgetSpec,
    CircuitBreakerSpec,
    DecorrelatedJitterSpec,
    EqualJitterSpec,
    ExponentialSpec,
    FixedSpec,
    FullJitterSpec,
    GrpcSpec,
    NoRetrySpec,
    RetrySpec,
    RetryThrottlingSpec,
    retry_spec_adapter,
)

__all__ = [
    # controller
    "RetryPolicy",
    "ClientState",
    "Call",
    "GiveUp",
    "GIVE_UP",
    "GIVE_UP_REASONS",
    # classification
    "ErrorClass",
    "classify",
    # building blocks
    "Backoff",
    "NoBackoff",
    "FixedBackoff",
    "ExponentialBackoff",
    "FullJitterBackoff",
    "EqualJitterBackoff",
    "DecorrelatedJitterBackoff",
    "GrpcBackoff",
    "RetryQuota",
    "RetryBudget",
    "RetryThrottle",
    "CircuitBreaker",
    "AdaptiveRateLimiter",
    # scenario spec
    "RetrySpec",
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
    "BudgetSpec",
    "CircuitBreakerSpec",
    "RetryThrottlingSpec",
    "build_policy",
    "retry_spec_adapter",
]
