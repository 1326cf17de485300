"""The scenario-file spec: defaults, units, validation errors, JSON Schema, public exports."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

import sim.policies
from sim.errors import InvalidScenario
from sim.policies import AwsStandardSpec, RetryPolicy, RetrySpec, retry_spec_adapter
from sim.policies.spec import _Common

ALL_KINDS = [
    "none",
    "fixed",
    "exponential",
    "full_jitter",
    "equal_jitter",
    "decorrelated_jitter",
    "aws_legacy",
    "aws_standard",
    "aws_adaptive",
    "grpc",
]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_builds_with_defaults(kind):
    policy = RetryPolicy.from_spec({"kind": kind})
    assert policy.kind == kind
    client = policy.new_client()
    assert (client.quota is not None) == (kind in ("aws_standard", "aws_adaptive"))
    assert (client.limiter is not None) == (kind == "aws_adaptive")
    assert client.budget is None and client.breaker is None


def test_sdk_defaults():
    standard = RetryPolicy.from_spec({"kind": "aws_standard"})
    assert (
        standard.max_attempts == 3
        and standard.backoff.cap == 20.0
        and standard.quota == (500, 5, 10, 1, 5, None)  # None: starts full
    )
    assert RetryPolicy.from_spec({"kind": "aws_legacy"}).max_attempts == 5
    grpc = RetryPolicy.from_spec({"kind": "grpc"})
    assert grpc.max_attempts is None and grpc.backoff.max_backoff == 120.0


def test_durations_with_units():
    spec = retry_spec_adapter().validate_python(
        {
            "kind": "exponential",
            "base": "250ms",
            "cap": "1m",
            "deadline": "1h30m",
            "circuit_breaker": {"open_for": "2s"},
            "budget": {"ratio": 0.2},
        }
    )
    assert (spec.base, spec.cap, spec.deadline, spec.circuit_breaker.open_for) == (
        0.25,
        60.0,
        5400.0,
        2.0,
    )
    policy = RetryPolicy.from_spec(spec)
    assert policy.deadline == 5400.0 and policy.budget == (0.2, 1.0, 10.0, 0.0)
    assert policy.breaker["open_for"] == 2.0


@pytest.mark.parametrize(
    "data,where",
    [
        ({"kind": "aws_standard", "max_atempts": 3}, "max_atempts"),
        ({"kind": "exponentail"}, ""),
        ({"kind": "fixed", "delay": "soon"}, "delay"),
        ({"kind": "fixed", "max_attempts": 0}, "max_attempts"),
        ({"kind": "none", "max_attempts": 2}, "max_attempts"),
        ({"kind": "grpc", "deadline": "0s"}, "deadline"),
        ({"kind": "fixed", "circuit_breaker": {"failure_threshold": None}}, "circuit_breaker"),
        ({"kind": "fixed", "budget": {"ratio": 2}}, "budget"),
    ],
)
def test_bad_specs_name_the_field(data, where):
    with pytest.raises(ValidationError):
        retry_spec_adapter().validate_python(data)
    with pytest.raises(InvalidScenario) as info:
        RetryPolicy.from_spec(data)
    assert where in str(info.value) and "got" in str(info.value)


def test_spec_is_embeddable_in_a_scenario_model():
    class Step(BaseModel):
        retry: RetrySpec = AwsStandardSpec(kind="aws_standard")

    assert Step().retry.max_attempts == 3
    assert (
        Step.model_validate({"retry": {"kind": "grpc", "max_backoff": "30s"}}).retry.max_backoff
        == 30.0
    )


def test_every_field_is_documented_in_the_json_schema():
    schema = retry_spec_adapter().json_schema()
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]} >= {
        "AwsStandardSpec",
        "GrpcSpec",
    }
    assert set(schema["discriminator"]["mapping"]) == set(ALL_KINDS)
    undocumented = [
        f"{name}.{field}"
        for name, model in schema["$defs"].items()
        for field, prop in model.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undocumented == []


def test_from_spec_refuses_other_types():
    with pytest.raises(TypeError, match="got int"):
        RetryPolicy.from_spec(3)


def test_public_exports_are_locked():
    assert sorted(sim.policies.__all__) == sorted(
        [
            "RetryPolicy", "ClientState", "Call", "GiveUp", "GIVE_UP", "GIVE_UP_REASONS",
            "ErrorClass", "classify",
            "Backoff", "NoBackoff", "FixedBackoff", "ExponentialBackoff", "FullJitterBackoff",
            "EqualJitterBackoff", "DecorrelatedJitterBackoff", "GrpcBackoff",
            "RetryQuota", "RetryBudget", "RetryThrottle", "CircuitBreaker", "AdaptiveRateLimiter",
            "RetrySpec", "NoRetrySpec", "FixedSpec", "ExponentialSpec", "FullJitterSpec",
            "EqualJitterSpec", "DecorrelatedJitterSpec", "AwsLegacySpec", "AwsStandardSpec",
            "AwsAdaptiveSpec", "GrpcSpec", "BudgetSpec", "CircuitBreakerSpec", "RetryThrottlingSpec",
            "build_policy", "retry_spec_adapter",
        ]
    )  # fmt: skip
    for name in sim.policies.__all__:
        assert getattr(sim.policies, name) is not None
    assert issubclass(AwsStandardSpec, _Common)


def test_policies_and_clients_survive_pickling():
    """Engines may ship a compiled scenario to worker processes."""
    import pickle
    import random

    from sim.policies import classify

    spec = {"kind": "grpc", "budget": {}, "circuit_breaker": {"failure_rate": 0.5}, "deadline": 60}
    policy = pickle.loads(pickle.dumps(RetryPolicy.from_spec(spec)))
    client = pickle.loads(pickle.dumps(policy.new_client()))
    call = policy.begin(client, 0.0)
    assert call.before_attempt(0.0) == 0.0
    assert call.on_failure(0.5, classify(None, 500), random.Random(1)) == 0.5  # 1s from start
