"""The gate's decisions without servers: request identification, rules, credentials, log."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from fakes.gate.credentials import CredentialBook, CredentialError
from fakes.gate.protocol import Call, error_body, error_code_of, identify
from fakes.gate.requestlog import RequestLog
from fakes.gate.rules import RuleError, RuleSet
from fakes.seed import seed
from sim.errors import InvalidInput

AUTH = "AWS4-HMAC-SHA256 Credential=ASIAKEY/20250101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=ab"


def _call(service="ssm", operation="GetParameter", key="AK", instance=None, protocol="json") -> Call:
    return Call(protocol, service, operation, key, instance)


def test_identify_json_and_query_protocols():
    json_call = identify(
        "POST", "", CIMultiDict({"Authorization": AUTH.format("ssm"), "X-Amz-Target": "AmazonSSM.GetParameter"}), b"{}"
    )
    assert (json_call.protocol, json_call.service, json_call.operation, json_call.access_key) == (
        "json", "ssm", "GetParameter", "ASIAKEY",
    )
    query_call = identify(
        "POST",
        "",
        CIMultiDict({"Authorization": AUTH.format("sts"), "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
        b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn",
    )
    assert (query_call.protocol, query_call.service, query_call.operation) == ("query", "sts", "AssumeRole")
    unsigned = identify("POST", "", CIMultiDict({"X-Amz-Target": "secretsmanager.GetSecretValue"}), b"{}")
    assert (unsigned.service, unsigned.access_key) == ("secretsmanager", None)
    tagged = identify("POST", "", CIMultiDict({"User-Agent": "Boto3/1.3 md/x app/i-42 cfg/retry-mode#standard"}), b"")
    assert tagged.instance_id == "i-42"


def test_error_bodies_parse_back_to_their_codes():
    status, code, headers, body = error_body("throttled", _call())
    assert (status, code, json.loads(body)) == (400, "ThrottlingException", {"__type": "ThrottlingException", "message": "Rate exceeded"})
    assert error_code_of(CIMultiDict(headers), body) == "ThrottlingException"
    status, code, headers, body = error_body("denied", _call("sts", "GetCallerIdentity", protocol="query"))
    assert (status, code) == (403, "AccessDenied")
    assert b"<Type>Sender</Type><Code>AccessDenied</Code>" in body and b"sts:GetCallerIdentity" in body
    assert error_code_of(CIMultiDict(), body) == "AccessDenied"


def test_quota_refills_at_its_rate_up_to_its_burst():
    rules = RuleSet()
    rules.add({"kind": "quota", "service": "ssm", "rate": 2, "burst": 2}, now=0.0)
    assert [rules.check(_call(), now=0.0) for _ in range(3)] == [None, None, "throttled"]
    assert rules.check(_call(), now=0.5) is None  # one token back after 0.5 s at 2/s
    assert rules.check(_call(), now=0.5) == "throttled"
    assert [rules.check(_call(), now=100.0) for _ in range(3)] == [None, None, "throttled"]


def test_call_under_two_quotas_spends_a_token_only_when_both_have_one():
    rules = RuleSet()
    op = rules.add({"kind": "quota", "service": "ssm", "operation": "GetParameter", "rate": 0, "burst": 1}, now=0.0)
    svc = rules.add({"kind": "quota", "service": "ssm", "rate": 0, "burst": 5}, now=0.0)
    assert rules.check(_call(), 0.0) is None
    assert rules.check(_call(), 0.0) == "throttled"
    assert (op.tokens, svc.tokens) == (0.0, 4.0)


def test_rule_order_and_matching():
    rules = RuleSet()
    rules.add({"kind": "fail_first", "service": "ssm", "count": 1, "status": 503}, now=0.0)
    rules.add({"kind": "deny", "service": "*", "instance_id": "i-bad"}, now=0.0)
    assert rules.check(_call(instance="i-bad"), 0.0) == "denied"
    assert rules.check(_call(service="sts"), 0.0) is None
    assert rules.check(_call(), 0.0) == "unavailable"
    assert rules.check(_call(), 0.0) is None
    rules.add({"kind": "outage", "service": "ssm"}, now=0.0)
    assert rules.check_front(_call()) == "unavailable" and rules.check_front(_call("sts")) is None
    assert rules.clear(kind="outage") == 1


def test_error_rate_is_seeded_and_near_its_probability():
    def draws(seed: int) -> list:
        rules = RuleSet(rng=random.Random(seed))
        rules.add({"kind": "error_rate", "service": "ssm", "probability": 0.25}, now=0.0)
        return [rules.check(_call(), 0.0) for _ in range(4000)]

    assert draws(7) == draws(7)
    assert 800 < draws(7).count("internal") < 1200


def test_rule_errors_name_the_field():
    with pytest.raises(RuleError, match=r"'burst' must be >= 1 when 'rate' > 0, got 0.5"):
        RuleSet().add({"kind": "quota", "service": "ssm", "rate": 1, "burst": 0.5}, now=0.0)


def test_credentials_expire_and_map_to_instances():
    book = CredentialBook()
    book.register({"access_key": "A", "instance_id": "i-1", "expires_in": 10}, now=100.0)
    book.register({"access_key": "B", "expiration": "1970-01-01T00:03:20Z"}, now=100.0)
    assert book.instance_of("A") == "i-1" and book.instance_of("unknown") is None
    assert not book.is_expired("A", 109.0) and book.is_expired("A", 110.0)
    assert not book.is_expired("B", 199.0) and book.is_expired("B", 200.0)
    assert not book.is_expired("unknown", 1e12)
    assert book.expire(150.0, instance_id="i-1") == 1 and book.is_expired("A", 150.0)
    with pytest.raises(CredentialError, match="'expires_in' must be seconds"):
        book.register({"access_key": "C", "expires_in": "soon"}, now=0.0)


def test_request_log_is_bounded_and_says_what_it_dropped():
    log = RequestLog(capacity=3)
    for i in range(5):
        log.add(float(i), "i-1", "A", "ssm", "GetParameter", 200, None, 1.0, False)
    page = log.since(0)
    assert [e["seq"] for e in page["entries"]] == [3, 4, 5] and page["dropped"] == 2 and page["next"] == 5
    assert log.since(5)["entries"] == [] and log.since(5)["next"] == 5
    assert log.counter_rows()[0]["requests"] == 5


def test_series_buckets_outcomes_by_time():
    log = RequestLog()
    log.add(10.2, None, "A", "ssm", "GetParameter", 200, None, 4.0, False)
    log.add(10.7, None, "A", "ssm", "GetParameter", 400, "ThrottlingException", 0.1, True)
    log.add(11.1, None, "A", "ssm", "GetParameter", 503, "ServiceUnavailable", 0.2, True)
    log.add(11.5, None, "A", "sts", "AssumeRole", 200, None, 9.0, False)
    rows = log.series(1.0, service="ssm")
    assert [(r["time"], r["offered"], r["ok"], r["throttled"], r["failed"]) for r in rows] == [
        (10.0, 2, 1, 1, 0),
        (11.0, 1, 0, 0, 1),
    ]
    assert rows[0]["latency_ms_p50"] == 4.0


def test_throttle_fault_rejects_everything_by_default_and_can_be_cleared_by_kind():
    rules = RuleSet()
    rules.add({"kind": "quota", "service": "ssm", "rate": 100}, now=0.0)
    rules.add({"kind": "throttle", "service": "ssm"}, now=0.0)
    assert rules.check(_call(), 0.0) == "throttled"
    assert rules.clear(kind="throttle") == 1
    assert rules.check(_call(), 0.0) is None


@given(
    rate=st.floats(0.0, 50.0),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=200),
)
def test_quota_never_admits_more_than_burst_plus_rate_times_elapsed(rate, burst, gaps):
    rules = RuleSet()
    rules.add({"kind": "quota", "service": "ssm", "rate": rate, "burst": burst}, now=0.0)
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        admitted += rules.check(_call(), now) is None
    assert admitted <= burst + rate * now + 1e-6
    # A bucket that starts full admits its whole burst at once.
    fresh = RuleSet()
    fresh.add({"kind": "quota", "service": "ssm", "rate": rate, "burst": burst}, now=0.0)
    assert [fresh.check(_call(), 0.0) for _ in range(burst)] == [None] * burst


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"parameters": {"/p": {"value": "1", "type": "Bogus"}}}, "type must be one of String, SecureString, StringList, got 'Bogus'"),
        ({"parameters": {"/p": 7}}, "expected a string, a Parameter or a dict"),
        ({"secrets": {"s": b"bytes"}}, "expected a string value, got bytes"),
        ({"roles": [{"name": "r", "colour": "red"}]}, "unknown keys ['colour']"),
    ],
)
def test_seed_rejects_bad_data_before_touching_moto(kwargs, expected):
    with pytest.raises(InvalidInput) as err:
        seed("http://127.0.0.1:9", **kwargs)  # nothing listens there: validation comes first
    assert expected in str(err.value)


def test_public_api_of_the_gate_package():
    import fakes.gate

    assert sorted(fakes.gate.__all__) == sorted(
        ["GateClient", "start_gate", "GATE_CAPACITY_RPS", "PROXIED_CAPACITY_RPS", "CONTROL_PREFIX", "INSTANCE_HEADER"]
    )
