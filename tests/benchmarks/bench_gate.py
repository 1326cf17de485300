"""Throughput and latency of the AWS API gate: alone, in front of moto, and moto direct.

    python tests/benchmarks/bench_gate.py [--seconds 5] [--concurrency 16]

Three runs in one go, each replaying one signed SSM GetParameter request from ``concurrency``
concurrent aiohttp clients for ``seconds``:

    gate rejects all   a quota of 0/s on the operation: the gate answers every call itself,
                       so this is the gate's own capacity (compare with GATE_CAPACITY_RPS)
    gate -> moto       no rules: every call proxied to moto
    moto direct        the same calls straight to moto

The load generator shares the machine with the servers, so on 2 cores every figure is a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import aiohttp  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from fakes.gate import GATE_CAPACITY_RPS, PROXIED_CAPACITY_RPS, GateClient, start_gate  # noqa: E402
from fakes.moto import start_moto  # noqa: E402
from fakes.seed import seed  # noqa: E402

PARAMETER = "/bench/value"


def _signed_request(url: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of one SigV4-signed GetParameter call, replayed as is: the gate checks
    its signature (the key is registered with its secret) and its age (well under 15 minutes
    during a run); moto's IAM enforcement is off."""
    body = ('{"Name": "%s"}' % PARAMETER).encode()
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"},
    )
    SigV4Auth(Credentials("AKIABENCHMARK0000000", "secret"), "ssm", "us-east-1").add_auth(request)
    return dict(request.headers.items()), body


async def _load(url: str, seconds: float, concurrency: int) -> tuple[int, list[float], dict[int, int]]:
    headers, body = _signed_request(url)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                async with session.post(url + "/", data=body, headers=headers) as resp:
                    await resp.read()
                latencies.append((time.perf_counter() - began) * 1000.0)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return int(len(latencies) / elapsed), latencies, statuses


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    moto = start_moto()
    gate_server = start_gate(moto.url)
    try:
        seed(moto.url, parameters={PARAMETER: "42"})
        gate = GateClient(gate_server.url)
        gate.register_key("AKIABENCHMARK0000000", secret_key="secret")
        rows = []
        rule = gate.set_quota("ssm", rate=0, burst=0, operation="GetParameter")
        rows.append(("gate rejects all", *asyncio.run(_load(gate_server.url, args.seconds, args.concurrency))))
        gate.remove_rule(rule)
        rows.append(("gate -> moto", *asyncio.run(_load(gate_server.url, args.seconds, args.concurrency))))
        rows.append(("moto direct", *asyncio.run(_load(moto.url, args.seconds, args.concurrency))))
        logged = gate.counters()
    finally:
        gate_server.stop()
        moto.stop()

    direct_rps = rows[-1][1] or 1
    print(f"\ngate benchmark: {args.seconds:g}s per run, {args.concurrency} concurrent clients, {os.cpu_count()} cores\n")
    print(f"{'run':<18}{'req/s':>8}{'vs direct':>11}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses")
    for name, rps, latencies, statuses in rows:
        print(
            f"{name:<18}{rps:>8}{rps / direct_rps:>10.2f}x"
            f"{statistics.median(latencies):>9.2f}{_percentile(latencies, 0.9):>9.2f}"
            f"{_percentile(latencies, 0.99):>9.2f}{max(latencies):>9.2f}  {statuses}"
        )
    print(f"\nGATE_CAPACITY_RPS (documented estimate in fakes/gate/server.py): {GATE_CAPACITY_RPS}")
    print(f"measured gate-alone capacity: {rows[0][1]} req/s")
    print(f"PROXIED_CAPACITY_RPS (documented estimate): {PROXIED_CAPACITY_RPS}; measured gate -> moto: {rows[1][1]} req/s")
    print(f"requests the gate logged: {sum(c['requests'] for c in logged)}")


if __name__ == "__main__":
    main()
