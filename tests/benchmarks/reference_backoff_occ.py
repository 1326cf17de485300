"""The reference numbers of tests/unit/test_sim_network.py (REFERENCE_50), regenerated.

A re-statement, written for this project, of the model in the simulator behind Marc Brooker's
"Exponential Backoff And Jitter" (AWS Architecture Blog, 2015; aws-samples/aws-arch-backoff-
simulator): N clients update one row with OCC (read, then conditional write, each message
delayed |N(10 ms, 2 ms)|), backoff base 5 ms and cap 2 s, the n-th retry sleeping from
``2**n * base``; writes are counted. It shares no code with bootstorm, so the test compares the
sim engine against an independent model.

    python tests/benchmarks/reference_backoff_occ.py     # clients, kind, mean ms, mean writes
"""

from __future__ import annotations

import heapq
import random

BASE_MS, CAP_MS = 5.0, 2000.0
KINDS = ("none", "exponential", "equal_jitter", "full_jitter", "decorrelated_jitter")


def simulate(clients: int, kind: str, rng: random.Random) -> tuple[float, int]:
    """One contention episode: (time the last client succeeded in ms, writes made)."""
    def net() -> float:
        return abs(rng.normalvariate(10.0, 2.0))

    version = 0
    writes = 0
    attempts = [0] * clients
    last_sleep = [BASE_MS] * clients
    queue: list = []
    seq = 0

    def push(at, what, client, value=None):
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, seq, what, client, value))

    def backoff(client: int) -> float:
        v = min(CAP_MS, 2 ** attempts[client] * BASE_MS)
        if kind == "none":
            return 0.0
        if kind == "exponential":
            return v
        if kind == "equal_jitter":
            return v / 2 + rng.uniform(0, v / 2)
        if kind == "full_jitter":
            return rng.uniform(0, v)
        last_sleep[client] = min(CAP_MS, rng.uniform(BASE_MS, last_sleep[client] * 3))
        return last_sleep[client]

    for c in range(clients):
        push(net(), "read", c)
    now = 0.0
    while queue:
        now, _, what, c, value = heapq.heappop(queue)
        if what == "read":  # the server reads the version; the answer goes back
            push(now + net(), "read_answer", c, version)
        elif what == "read_answer":  # the client sends its conditional write
            push(now + net(), "write", c, value)
        elif what == "write":
            writes += 1
            ok = value == version
            version += ok
            push(now + net(), "write_answer", c, ok)
        elif not value:  # a conflict: back off, then read again
            attempts[c] += 1
            push(now + net() + backoff(c), "read", c)
    return now, writes


def main() -> None:
    rng = random.Random(1)
    for clients in (10, 50, 100):
        for kind in KINDS:
            runs = 100 if clients < 100 else 50
            results = [simulate(clients, kind, rng) for _ in range(runs)]
            ms = sum(r[0] for r in results) / runs
            writes = sum(r[1] for r in results) / runs
            print(f"{clients:4d} {kind:20s} {ms:8.0f} ms {writes:8.1f} writes")


if __name__ == "__main__":
    main()
