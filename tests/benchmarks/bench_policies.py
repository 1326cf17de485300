"""How fast the retry controller runs: logical calls per second, per policy kind.

Run on demand: ``python tests/benchmarks/bench_policies.py``. Each call is driven the way the
SimPy engine drives it (begin, before_attempt, on_failure/on_success), with 30% of attempts
failing (a mix of throttles and 503s) and one client per 20 calls.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sim.policies import GiveUp, RetryPolicy, classify  # noqa: E402

KINDS = [
    {"kind": "none"},
    {"kind": "full_jitter"},
    {"kind": "decorrelated_jitter"},
    {"kind": "aws_legacy"},
    {"kind": "aws_standard"},
    {"kind": "aws_adaptive"},
    {"kind": "grpc", "max_attempts": 5},
    {"kind": "full_jitter", "budget": {}, "circuit_breaker": {}, "deadline": "30s"},
]


def drive(policy, calls: int, seed: int = 1) -> tuple[int, int]:
    rng, faults = random.Random(seed), random.Random(seed + 1)
    errors = (classify("ThrottlingException", 400), classify(None, 503))
    GiveUpType = GiveUp
    now, attempts, client = 0.0, 0, policy.new_client()
    for i in range(calls):
        if i % 20 == 0:
            client = policy.new_client()
        call = policy.begin(client, now)
        while True:
            wait = call.before_attempt(now)
            if wait.__class__ is GiveUpType:
                break
            now += wait + 0.01
            if faults.random() >= 0.3:
                call.on_success(now)
                break
            delay = call.on_failure(now, errors[faults.random() < 0.5], rng)
            if delay.__class__ is GiveUpType:
                break
            now += delay
        attempts += call.attempts
    return calls, attempts


def main(calls: int = 200_000) -> None:
    print(f"{'policy':<48} {'calls/s':>12} {'attempts/s':>12} {'us/call':>8}")
    for spec in KINDS:
        policy = RetryPolicy.from_spec(spec)
        start = time.perf_counter()
        n, attempts = drive(policy, calls)
        elapsed = time.perf_counter() - start
        label = ",".join(f"{k}={v}" for k, v in spec.items())
        print(
            f"{label[:48]:<48} {n / elapsed:>12,.0f} {attempts / elapsed:>12,.0f} {elapsed / n * 1e6:>8.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
