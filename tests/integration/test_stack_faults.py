"""Scenario faults applied to the real fakes, seen by a boto3 bootstrap, and lifted again."""

from __future__ import annotations

import http.client
import json
import statistics
import time
import urllib.error
import urllib.request

import pytest
from pydantic import TypeAdapter

from fakes.stack import FaultTimeline
from fakes.stack.faults import NOMINAL_BANDWIDTH_KB

SECRET = "app/db-password"


def _faults(*specs: dict) -> list:
    from sim.scenario.faults import FaultSpec

    return TypeAdapter(list[FaultSpec]).validate_python(list(specs))


def test_partition_of_secretsmanager_times_out_while_sts_works(fake_stack, bootstrap):
    boot = bootstrap(read_timeout=1.5)
    assert boot.call("secret", name=SECRET)["ok"]
    handle = fake_stack.apply_fault("partition", "secretsmanager")
    cut = boot.call("secret", name=SECRET)
    assert not cut["ok"] and cut["error_type"] in ("ReadTimeoutError", "ConnectTimeoutError"), cut
    assert cut["elapsed"] >= 1.0
    assert boot.call("identity")["ok"]
    fake_stack.lift_fault(handle)
    assert boot.call("secret", name=SECRET)["ok"]
    assert not handle.active and fake_stack.faults == {}


def test_latency_toxic_slows_calls_measurably(fake_stack, bootstrap):
    boot = bootstrap()
    assert boot.call("identity")["ok"]
    base = statistics.median(boot.call("identity")["elapsed"] for _ in range(3))
    assert base < 0.6
    handle = fake_stack.apply_fault("latency", "sts", latency="800ms")
    slow = boot.call("identity")
    assert slow["ok"] and slow["elapsed"] >= 0.78, (base, slow)  # the toxic holds every answer 800 ms
    assert boot.call("secret", name=SECRET)["elapsed"] < 0.6  # other services keep their speed
    fake_stack.lift_fault(handle)
    after = min(boot.call("identity")["elapsed"] for _ in range(2))
    assert after < 0.6, (base, after)


def test_throttle_answers_throttling_exception_and_lifts(fake_stack, bootstrap):
    boot = bootstrap()
    handle = fake_stack.apply_fault("throttle", f"secretsmanager.GetSecretValue", quota={"rate": 0.01, "burst": 1})
    assert boot.call("secret", name=SECRET)["ok"]  # the one token in the bucket
    throttled = boot.call("secret", name=SECRET)
    assert throttled["error_code"] == "ThrottlingException", throttled
    assert boot.call("identity")["ok"]  # another service is not under the quota
    fake_stack.lift_fault(handle)
    assert boot.call("secret", name=SECRET)["ok"]
    codes = [e["error_code"] for e in fake_stack.request_log() if e["operation"] == "GetSecretValue"]
    assert codes == [None, "ThrottlingException", None], codes


def test_deny_answers_access_denied_only_for_the_target(fake_stack, bootstrap):
    boot = bootstrap()
    handle = fake_stack.apply(_faults({"at": 0, "target": "secretsmanager.GetSecretValue", "kind": "deny"})[0])
    denied = boot.call("secret", name=SECRET)
    assert denied["error_code"] == "AccessDeniedException", denied
    assert boot.call("parameter", name="/app/config")["ok"]
    fake_stack.lift_fault(handle)
    fake_stack.lift_fault(handle)  # idempotent
    assert boot.call("secret", name=SECRET)["ok"]


def test_expire_credentials_gives_expired_token_until_fresh_credentials(fake_stack, bootstrap):
    boot = bootstrap()
    assert boot.call("secret", name=SECRET)["ok"]
    handle = fake_stack.apply_fault("expire_credentials", "instances")
    assert not handle.active  # one-shot
    expired = boot.call("secret", name=SECRET)
    assert expired["error_code"] == "ExpiredTokenException", expired
    # A new SDK session asks IMDS again and gets new credentials, which work.
    assert boot.call("secret", name=SECRET, fresh=True)["ok"]


def test_outage_and_reset_of_imds(fake_stack):
    fake_stack.add_instance("i-000000000000001d0")
    token_url = f"{fake_stack.proxies.url('imds')}/i-000000000000001d0/latest/api/token"

    def put_token() -> int:
        req = urllib.request.Request(token_url, method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    assert put_token() == 200
    outage = fake_stack.apply_fault("outage", "imds")
    assert put_token() == 503
    reset = fake_stack.apply_fault("reset", "imds")
    started = time.monotonic()
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
        put_token()
    assert time.monotonic() - started < 5
    fake_stack.lift_fault(reset)
    assert put_token() == 503
    fake_stack.lift_fault(outage)
    assert put_token() == 200


def test_sinks_outage_fails_registration_then_lifts(fake_stack):
    register = fake_stack.proxies.url("registry") + "/register"

    def post() -> int:
        req = urllib.request.Request(register, data=b'{"instance_id": "i-0sink"}', method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    handle = fake_stack.apply_fault("outage", "registry")
    assert post() == 503
    fake_stack.lift_fault(handle)
    assert post() == 201
    assert "i-0sink" in fake_stack.sink_summary()


def test_fault_timeline_applies_and_lifts_on_time(fake_stack):
    faults = _faults(
        {"at": 0.5, "for": 1.5, "target": "secretsmanager.GetSecretValue", "kind": "deny"},
        {"at": 0.5, "target": "ssm", "kind": "outage"},
        {"at": 0.0, "for": 1, "target": "config", "kind": "outage"},  # no fake: recorded, not raised
    )
    timeline = FaultTimeline(fake_stack, faults).start()
    try:
        applied = _wait_for(lambda: any(r["kind"] == "deny" for r in fake_stack.gate.rules()), 20)
        assert applied >= 0.4
        held = _wait_for(lambda: not any(r["kind"] == "deny" for r in fake_stack.gate.rules()), 20)
        assert held >= 1.0
        assert any(r["kind"] == "outage" for r in fake_stack.gate.rules())  # no `for`: until stop
    finally:
        timeline.stop()
    assert fake_stack.gate.rules() == [] and fake_stack.faults == {}
    deny, outage, broken = timeline.records
    assert deny["applied_at"] >= 0.5 and deny["lifted_at"] >= 2.0 and deny["error"] is None
    assert outage["lifted_at"] is not None
    assert "has no real fake" in broken["error"]


def _wait_for(condition, timeout: float) -> float:
    """Seconds from now until ``condition()`` holds (polling), or fail after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_imds_deny_throttle_and_slow_bandwidth_map_onto_imds_and_toxiproxy(fake_stack):
    fake_stack.add_instance("i-00000000000000b0b")
    base = f"{fake_stack.proxies.url('imds')}/i-00000000000000b0b/latest/api/token"
    toxics_url = f"{fake_stack.servers['toxiproxy'].url}/proxies/imds/toxics"

    def status() -> int:
        req = urllib.request.Request(base, method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    def toxics() -> list[dict]:
        with urllib.request.urlopen(toxics_url, timeout=10) as resp:
            return json.loads(resp.read())

    deny = fake_stack.apply_fault("deny", "imds")
    assert status() == 403 and deny.notes
    fake_stack.lift_fault(deny)
    assert status() == 200
    throttle = fake_stack.apply_fault("throttle", "imds", quota={"rate": 0.01, "burst": 1})
    assert fake_stack.imds.instance("i-00000000000000b0b")["settings"]["rate_limit"] == 0.01
    fake_stack.lift_fault(throttle)
    assert fake_stack.imds.instance("i-00000000000000b0b")["settings"]["rate_limit"] == 1024.0
    slow = fake_stack.apply_fault("slow_bandwidth", "imds", factor=4)
    (toxic,) = toxics()
    assert toxic["type"] == "bandwidth" and toxic["attributes"]["rate"] == NOMINAL_BANDWIDTH_KB // 4
    assert status() == 200  # slow, not broken
    fake_stack.lift_fault(slow)
    assert toxics() == []
