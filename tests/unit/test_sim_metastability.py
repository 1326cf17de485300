"""A retry-sustained metastable failure, the shape of Bronson et al., "Metastable Failures in
Distributed Systems" (HotOS 2021), and of Huang et al., "Metastable Failures in the Wild"
(OSDI 2022): a system in its *vulnerable* state (load below capacity, but not below
capacity / retry amplification) meets a *trigger* (here a 30 s latency spike); after the
trigger is gone, the *sustaining effect* (retries of timed-out calls, whose abandoned work the
server still does) keeps it overloaded. The same trigger leaves a system in its *stable* state
(low load), or one whose retries are limited, able to recover.

The model: Poisson launches, four calls in a row per boot to one worker (~27 calls/s of
capacity), 1 s timeouts, retries every 200 ms for up to 30 s. The window measured is 150 s to
270 s after the trigger ended.
"""

from __future__ import annotations

import pytest

from _sim_helpers import base, simulate

WINDOW = slice(240, 360)


def storm(rate, retry=None, trigger=True):
    retry = {"kind": "fixed", "delay": "200ms", "max_attempts": "unlimited", "deadline": "30s",
             **(retry or {})}
    steps = [{"name": n, "call": "svc.Get", "needs": "none", "timeout": "1s", "retry": retry,
              **({"after": [prev]} if prev else {})}
             for n, prev in (("a", None), ("b", "a"), ("c", "b"), ("d", "c"))]
    steps[-1]["mark"] = "ready"
    run = simulate(base(
        run={"seed": 3, "horizon": "8m"},
        fleet={"size": int(rate * 360), "arrival": {"kind": "poisson", "rate": rate}},
        dependencies={"svc": {"concurrency": 1,
                              "service_time": {"kind": "lognormal", "median": "36ms",
                                               "p99": "80ms"}}},
        bootstrap={"steps": steps},
        faults=[{"at": "60s", "for": "30s", "target": "svc", "kind": "latency",
                 "latency": "1s"}] if trigger else [],
    ))
    c = run.dependencies["svc"].counts
    return (c["offered"][WINDOW].sum(), c["needed"][WINDOW].sum(), c["served"][WINDOW].sum())


def test_vulnerable_system_stays_down_after_the_trigger_is_gone():
    """20 calls/s against ~27/s: fine without the trigger; after it, the served rate stays at
    0 and retries multiply the offered load by more than 5 long after the spike ended."""
    offered, needed, served = storm(5, trigger=False)
    assert served >= 0.98 * needed and offered <= 1.02 * needed
    offered, needed, served = storm(5)
    assert served == 0 and offered > 5 * needed


def test_stable_state_recovers_from_the_same_trigger():
    """At 2 calls/s even retried calls stay under capacity: the system recovers."""
    offered, needed, served = storm(0.5)
    assert served >= 0.98 * needed and offered <= 1.02 * needed


@pytest.mark.parametrize(
    "retry",
    [
        {"max_attempts": 1},
        {"retry_throttling": {"initial_tokens": 0}},
        {"budget": {"ratio": 0.1, "min_per_second": 0}},
        {"circuit_breaker": {"failure_threshold": 1, "open_for": "30s", "blocks": "retries"}},
    ],
    ids=["no-retries", "grpc-throttling-starting-empty", "budget-no-reserve", "breaker-on-retries"],
)
def test_limiting_retries_removes_the_sustaining_effect(retry):
    offered, needed, served = storm(5, retry)
    assert served >= 0.95 * needed and offered <= 1.05 * needed


def test_a_guard_that_starts_full_does_not_help_a_fleet_of_new_clients():
    """gRPC's throttling starts full and resets with each new client: every new instance may
    still retry 4 times against a dead service, which is enough to stay metastable. Its
    initial fill is what decides here."""
    offered, needed, served = storm(5, {"retry_throttling": {}})
    assert served == 0 and offered > 2 * needed
