"""Registry and telemetry sinks against the real server process."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from sim.errors import FakeFailed

pytestmark = pytest.mark.integration


def test_register_then_duplicate_is_counted_not_stored(sinks):
    first = sinks.register("i-a", idempotency_key="boot-1", role="web")
    again = sinks.register("i-a", idempotency_key="boot-1", role="web")
    assert (first.status, first["duplicate"]) == (201, False)
    assert (again.status, again["duplicate"]) == (200, True)
    assert again["version"] == first["version"] and again["registered_at"] == first["registered_at"]
    members = sinks.membership()
    assert members["version"] == 1 and [m["instance_id"] for m in members["members"]] == ["i-a"]
    assert members["members"][0]["data"] == {"role": "web"}
    assert sinks.summary()["i-a"]["duplicate_registrations"] == 1
    assert [e["type"] for e in sinks.events()] == ["register", "register_duplicate"]


def test_idempotency_key_in_body_and_natural_key_without_one(sinks, sinks_server):
    body = json.dumps({"instance_id": "i-b", "idempotency_key": "k-b"}).encode()
    for expected in (201, 200):
        req = urllib.request.Request(f"{sinks_server.url}/register", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == expected
    assert sinks.register("i-c").status == 201
    assert sinks.register("i-c").status == 200  # no key: the instance id is the key
    # A new key for a registered instance is a re-registration (a rebooted instance).
    again = sinks.register("i-b", idempotency_key="k-b-2")
    assert again.status == 201 and again["version"] == 3
    assert sinks.summary()["i-b"]["reregistrations"] == 1


def test_compare_and_set_conflict(sinks):
    version = sinks.membership()["version"]
    winner = sinks.register("i-x", expected_version=version, idempotency_key="x")
    loser = sinks.register("i-y", expected_version=version, idempotency_key="y")
    assert winner.status == 201
    assert loser.status == 409 and loser["current_version"] == version + 1
    assert [m["instance_id"] for m in sinks.membership()["members"]] == ["i-x"]
    assert sinks.summary()["i-y"]["conflicts"] == 1
    retry = sinks.register("i-y", expected_version=loser["current_version"], idempotency_key="y")
    assert retry.status == 201 and retry["version"] == version + 2
    # A retried request whose first attempt landed is answered from the idempotency record,
    # even though the version it carries is stale now.
    assert sinks.register("i-x", expected_version=version, idempotency_key="x").status == 200


def test_cas_required_mode(sinks):
    sinks.settings(cas_required=True)
    refused = sinks.register("i-z")
    assert refused.status == 428
    assert sinks.register("i-z", expected_version=refused["current_version"]).status == 201


def test_deregister(sinks):
    sinks.register("i-d")
    assert sinks.deregister("i-d")["version"] == 2
    assert sinks.deregister("i-d").status == 404
    assert sinks.membership() == {"version": 2, "members": []}


def test_telemetry_validation(sinks):
    with pytest.raises(FakeFailed, match="source"):
        sinks.telemetry("i-t", "kernel")
    with pytest.raises(FakeFailed, match="instance_id"):
        sinks.telemetry("", "agent")
    assert sinks.telemetry("i-t", "app", "request_count", value=3)["accepted"] is True
    ev = sinks.events(kind="telemetry")[-1]
    assert (ev["source"], ev["kind"], ev["data"]) == ("app", "request_count", {"value": 3})


def test_events_are_stamped_on_arrival_in_order(sinks):
    before_wall, before_mono = time.time(), time.monotonic()
    sinks.register("i-o", idempotency_key="o")
    sinks.telemetry("i-o", "agent", "heartbeat")
    sinks.telemetry("i-o", "app", "started")
    sinks.telemetry("i-o", "agent", "heartbeat")
    after_wall, after_mono = time.time(), time.monotonic()
    events = sinks.events()
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    for a, b in zip(events, events[1:]):
        assert a["monotonic"] <= b["monotonic"] and a["time"] <= b["time"]
    # CLOCK_MONOTONIC is machine-wide: the server's stamps fall inside our own window.
    assert before_mono <= events[0]["monotonic"] <= events[-1]["monotonic"] <= after_mono
    assert before_wall - 1 <= events[0]["time"] <= after_wall + 1
    assert [e["seq"] for e in sinks.events(since=2)] == [3, 4]
    assert [e["seq"] for e in sinks.events(instance_id="i-o", kind="register")] == [1]


def test_summary_per_instance(sinks):
    sinks.register("i-s", idempotency_key="s")
    sinks.register("i-s", idempotency_key="s")
    sinks.telemetry("i-s", "agent", "heartbeat")
    sinks.telemetry("i-s", "app", "metric")
    sinks.telemetry("i-s", "app", "metric")
    sinks.telemetry("i-u", "agent", "heartbeat")  # reports without ever registering
    summary = sinks.summary()
    s = summary["i-s"]
    assert s["registered_at"] <= s["first_agent_event"] <= s["first_app_event"]
    assert s["registered_monotonic"] <= s["first_agent_monotonic"] <= s["first_app_monotonic"]
    assert (s["duplicate_registrations"], s["agent_events"], s["app_events"]) == (1, 1, 2)
    assert summary["i-u"]["registered_at"] is None and summary["i-u"]["first_agent_event"] is not None


def test_injected_failure_and_reset(sinks):
    sinks.settings(fail_status=503)
    with pytest.raises(FakeFailed, match="503"):
        sinks.register("i-f")
    sinks.settings(fail_status=0)
    assert sinks.events() == []  # nothing was stored during the failure
    sinks.register("i-f")
    sinks.reset()
    assert sinks.events() == [] and sinks.summary() == {} and sinks.membership()["version"] == 0


def test_bad_json_is_400(sinks_server, sinks):
    req = urllib.request.Request(f"{sinks_server.url}/register", data=b"[1, 2]", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    err.value.close()
    assert err.value.code == 400
