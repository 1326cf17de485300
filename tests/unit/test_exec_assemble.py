"""The exec engine's attempt rows: what counts as a retry."""

from __future__ import annotations

from sim.engines.exec.assemble import _retries_per_op


def call(t, service, operation, status=200, error_code=None):
    return {"time": t, "service": service, "operation": operation, "status": status, "error_code": error_code}


def test_two_successful_calls_of_one_operation_are_no_retry():
    # A script that fetches an IMDSv2 token twice (once itself, once in its SDK) made two
    # calls; neither followed a failure, so neither is a retry.
    calls = [call(0.0, "imds", "PutToken"), call(0.5, "imds", "PutToken"),
             call(0.6, "secretsmanager", "GetSecretValue")]
    assert sum(_retries_per_op(calls).values()) == 0


def test_a_retry_is_a_call_after_a_failed_call_of_the_same_operation():
    calls = [
        call(0.0, "imds", "PutToken", 503, "ServiceUnavailable"),
        call(1.0, "imds", "PutToken"),                     # retry 1
        call(1.1, "imds", "PutToken"),                     # after a success: not a retry
        call(1.2, "secretsmanager", "GetSecretValue", 400, "ThrottlingException"),
        call(1.3, "ssm", "GetParameter"),                  # another operation: not a retry
        call(1.5, "secretsmanager", "GetSecretValue", None, None),  # no status: failed, and a retry
        call(2.5, "secretsmanager", "GetSecretValue"),     # retry 3
    ]
    retries = _retries_per_op(list(reversed(calls)))  # order of the log does not matter
    assert retries == {"imds.PutToken": 1, "secretsmanager.GetSecretValue": 2}
