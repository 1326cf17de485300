"""Throughput and latency of the fake IMDS: ``python -m tests.benchmarks.bench_imds``.

Starts the server as its own process (one core), then drives GETs with a valid token from an
aiohttp client in this process, for each concurrency level, and prints requests/s and latency
percentiles. ``--fresh`` opens a new connection per request, as ``curl`` in a boot script does.

The harness compares the offered IMDS load of a run with `IMDS_CAPACITY_RPS` and warns when
the fake, rather than the bootstrap under test, may be the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

__all__ = ["IMDS_CAPACITY_RPS", "IMDS_CAPACITY_FRESH_RPS", "run"]

# The capacity figures this benchmark backs live beside the server, where the harness reads them.
from fakes.imds import IMDS_CAPACITY_FRESH_RPS, IMDS_CAPACITY_RPS  # noqa: E402

PATH = "latest/meta-data/instance-id"


async def _drive(base: str, token: str, concurrency: int, seconds: float, fresh: bool) -> tuple[list[float], int]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"X-aws-ec2-metadata-token": token}
    if fresh:
        headers["Connection"] = "close"
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=fresh)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.get(base + PATH, headers=headers) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drive_process(args: tuple) -> tuple[list[float], int]:
    return asyncio.run(_drive(*args))


def _drive_many(clients: int, base: str, token: str, concurrency: int, seconds: float,
                fresh: bool) -> tuple[list[float], int]:
    if clients == 1:
        return asyncio.run(_drive(base, token, concurrency, seconds, fresh))
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(clients) as pool:
        parts = pool.map(_drive_process, [(base, token, max(1, concurrency // clients), seconds, fresh)] * clients)
    return [x for lat, _ in parts for x in lat], sum(err for _, err in parts)


def run(levels: list[int], seconds: float, fresh: bool, clients: int = 1) -> list[dict]:
    from fakes.imds import ImdsClient, start_imds
    from tests.integration._imds_helpers import TTL_HEADER, imds_call

    server = start_imds(config={"defaults": {"rate_limit": None}})
    rows = []
    try:
        client = ImdsClient(server.url)
        inst = client.add_instance()
        base = client.endpoint(inst["instance_id"])
        _, _, token = imds_call(base, "PUT", "latest/api/token", {TTL_HEADER: "21600"})
        asyncio.run(_drive(base, token, 4, 0.5, fresh))  # warm up
        for concurrency in levels:
            started, cpu_before = time.perf_counter(), _cpu_seconds(server.proc.pid)
            latencies, errors = _drive_many(clients, base, token, concurrency, seconds, fresh)
            elapsed = time.perf_counter() - started
            server_cpu = (_cpu_seconds(server.proc.pid) - cpu_before) / elapsed
            latencies.sort()
            rows.append({
                "concurrency": concurrency,
                "requests": len(latencies),
                "errors": errors,
                "rps": len(latencies) / elapsed,
                "p50_ms": _pct(latencies, 0.50) * 1e3,
                "p90_ms": _pct(latencies, 0.90) * 1e3,
                "p99_ms": _pct(latencies, 0.99) * 1e3,
                "max_ms": (latencies[-1] if latencies else float("nan")) * 1e3,
                "server_cpu": server_cpu,
                "mean_ms": (statistics.fmean(latencies) if latencies else float("nan")) * 1e3,
            })
    finally:
        server.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each level")
    parser.add_argument("--levels", default="1,4,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--fresh", action="store_true", help="a new connection per request")
    parser.add_argument("--clients", type=int, default=1,
                        help="client processes (the client is often the bottleneck on 2 cores)")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x]
    rows = run(levels, args.seconds, args.fresh, args.clients)
    mode = "new connection per request" if args.fresh else "keep-alive"
    print(f"fake IMDS, GET /{PATH} with a token, {mode}, {args.seconds:.0f}s per level")
    print(f"{'conc':>5} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7} {'srv cpu':>7}")
    for r in rows:
        print(f"{r['concurrency']:>5} {r['requests']:>9} {r['errors']:>6} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} "
              f"{r['p90_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['max_ms']:>7.2f} {r['server_cpu']:>6.0%}")
    best = max(r["rps"] for r in rows)
    target = 5000
    print(f"best {best:.0f} req/s (target >= {target}): {'OK' if best >= target else 'BELOW TARGET'}")
    busiest = max(rows, key=lambda r: r["server_cpu"])
    if busiest["server_cpu"] > 0:
        print(f"server capacity at one full core, extrapolated from the busiest level: "
              f"{busiest['rps'] / busiest['server_cpu']:.0f} req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
