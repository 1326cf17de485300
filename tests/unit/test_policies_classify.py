"""Error classification as botocore's standard and legacy modes do it."""

from __future__ import annotations

import pickle

import pytest

from sim.policies import classify
from sim.policies.classify import THROTTLING_CODES

BOTOCORE_THROTTLING = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
]


@pytest.mark.parametrize("code", BOTOCORE_THROTTLING)
def test_throttling_codes(code):
    error = classify(code, 400)
    assert error.kind == "throttle" and error.throttle and error.retryable and not error.timeout


def test_throttling_list_is_exactly_botocores():
    assert THROTTLING_CODES == frozenset(BOTOCORE_THROTTLING)


@pytest.mark.parametrize(
    "code", ["RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable"]
)
def test_transient_codes(code):
    error = classify(code, 400)
    assert error.kind == "transient" and error.retryable and not error.throttle


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_statuses(status):
    error = classify(None, status)
    assert error.kind == "server" and error.retryable


def test_timeouts_and_connection_errors():
    timeout = classify(timeout=True)
    assert (
        timeout.kind == "timeout"
        and timeout.timeout
        and timeout.retryable
        and timeout.legacy_retryable
    )
    conn = classify(connection=True)
    assert (
        conn.kind == "connection" and conn.retryable and not conn.timeout and conn.legacy_retryable
    )


@pytest.mark.parametrize(
    "code,status",
    [
        ("AccessDenied", 403),
        ("AccessDeniedException", 400),
        ("ValidationException", 400),
        (None, 401),
        (None, 404),
    ],
)
def test_not_retryable(code, status):
    error = classify(code, status)
    assert error.kind == "client" and not error.retryable and not error.legacy_retryable


def test_expired_token_is_for_the_credential_provider():
    error = classify("ExpiredTokenException", 400)
    assert error.kind == "credentials" and not error.retryable


def test_legacy_mode_differs_from_standard():
    # _retry.json retries 429/500/503/509 and Throttling(Exception), not 502/504.
    assert classify(None, 502).retryable and not classify(None, 502).legacy_retryable
    assert classify(None, 504).retryable and not classify(None, 504).legacy_retryable
    assert not classify(None, 429).retryable and classify(None, 429).legacy_retryable
    assert classify(None, 509).legacy_retryable
    assert classify("ThrottlingException", 400).legacy_retryable
    assert not classify("ProvisionedThroughputExceededException", 400).legacy_retryable
    assert classify("SlowDown", 503).legacy_retryable  # by its status


def test_results_are_shared_and_comparable():
    assert classify("Throttling", 400) is classify("ThrottlingException", 400)
    assert classify("SlowDown", 400) is classify("TooManyRequestsException", 400)
    assert classify(None, 503) == pickle.loads(pickle.dumps(classify(None, 503)))
    assert "throttle" in repr(classify("Throttling", 400))
