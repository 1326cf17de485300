"""What netns isolation costs: ``python -m tests.benchmarks.bench_netns`` (root only).

1. IMDS GET (``/latest/meta-data/instance-id`` with a token) from a client process, the same
   client code both ways: **direct** to the instance's IMDS root listener on the host's
   127.0.0.1, and **via netns**: the client runs inside an instance namespace (``ip netns
   exec``) and asks 169.254.169.254:80, which the forwarder splices to that listener. Per
   concurrency level, keep-alive connections and a new connection per request (``--fresh``
   too, as curl in a boot script does). Prints requests/s and latency percentiles.
2. Setting up and tearing down one instance's namespace (``ip netns add``, lo and EC2's
   addresses, the forwarder's listeners) and the forwarder's own CPU.

The IMDS runs as its own process; the forwarder in this process, as in the harness. Numbers
on a shared machine are noisy: run it on an idle one for figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

__all__ = ["run"]

# The client, run as its own process (the same code for both paths): JSON on stdout.
CLIENT = textwrap.dedent('''
    import asyncio, json, sys, time
    import aiohttp
    base, concurrency, seconds, fresh = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
    async def main():
        conn = aiohttp.TCPConnector(limit=concurrency, force_close=fresh)
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.put(base + "latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "600"}) as r:
                token = await r.text()
            lat, errors = [], 0
            deadline = time.perf_counter() + seconds
            async def worker():
                nonlocal errors
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    try:
                        async with s.get(base + "latest/meta-data/instance-id",
                                         headers={"X-aws-ec2-metadata-token": token}) as r:
                            await r.read()
                            ok = r.status == 200
                    except aiohttp.ClientError:
                        ok = False
                    if ok:
                        lat.append(time.perf_counter() - t)
                    else:
                        errors += 1
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            print(json.dumps({"n": len(lat), "errors": errors, "seconds": time.perf_counter() - started,
                              "lat": sorted(lat)}))
    asyncio.run(main())
''')


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _client(prefix: list[str], base: str, concurrency: int, seconds: float, fresh: bool) -> dict:
    done = subprocess.run([*prefix, sys.executable, "-c", CLIENT, base, str(concurrency), str(seconds),
                           "1" if fresh else "0"], capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"client failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    lat = out["lat"]
    return {"rps": out["n"] / out["seconds"], "p50_ms": _pct(lat, 0.5) * 1e3, "p99_ms": _pct(lat, 0.99) * 1e3,
            "errors": out["errors"]}


def _setup_costs(imds_port: int, rounds: int) -> dict:
    from sim.engines.exec.forwarder import Forwarder
    from sim.engines.exec.netns import IMDS_V4, IMDS_V6, Namespace

    forwarder = Forwarder().start()
    create, remove = [], []
    try:
        for i in range(rounds):
            t = time.perf_counter()
            ns = Namespace.create(f"bootstorm-{os.getpid()}-bench{i}")
            for address in (IMDS_V4, IMDS_V6):
                forwarder.listen(ns.name, ns.name, address, 80, imds_port)
            for port in range(40000, 40007):  # as many as the stack's AWS and sink proxies
                forwarder.listen(ns.name, ns.name, "127.0.0.1", port, port)
            create.append(time.perf_counter() - t)
            t = time.perf_counter()
            forwarder.close(ns.name)
            ns.remove()
            remove.append(time.perf_counter() - t)
    finally:
        forwarder.stop()
    return {"create_ms": statistics.median(create) * 1e3, "remove_ms": statistics.median(remove) * 1e3}


def run(concurrencies=(1, 8, 32), seconds: float = 3.0, rounds: int = 10) -> list[dict]:
    from fakes.imds import ImdsClient, start_imds
    from sim.engines.exec.forwarder import Forwarder
    from sim.engines.exec.netns import IMDS_V4, Namespace, netns_unavailable

    why = netns_unavailable()
    if why is not None:
        raise SystemExit(f"bench_netns needs network namespaces: {why}")
    server = start_imds()
    ns = forwarder = None
    rows = []
    try:
        imds = ImdsClient(server.url)
        port = int(imds.add_instance("i-0bench00000000001", listener=True)["listener_port"])
        ns = Namespace.create(f"bootstorm-{os.getpid()}-bench")
        forwarder = Forwarder().start()
        forwarder.listen("bench", ns.name, IMDS_V4, 80, port)
        for fresh in (False, True):
            for c in concurrencies:
                direct = _client([], f"http://127.0.0.1:{port}/", c, seconds, fresh)
                cpu0 = time.process_time()  # this process is the forwarder (and little else)
                via = _client(ns.exec_prefix(), f"http://{IMDS_V4}/", c, seconds, fresh)
                cpu = time.process_time() - cpu0
                rows.append({"connections": "new per request" if fresh else "keep-alive", "concurrency": c,
                             "direct": direct, "netns": via, "forwarder_cpu_s": cpu,
                             "forwarder_cpu_per_1k": cpu / max(1, via["rps"] * seconds) * 1e3})
        rows.append({"setup": _setup_costs(port, rounds)})
    finally:
        if forwarder is not None:
            forwarder.stop()
        if ns is not None:
            ns.remove()
        server.stop()
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = p.parse_args(argv)
    rows = run(tuple(args.concurrency), args.seconds)
    print(f"{'connections':<16}{'conc':>5} | {'direct rps':>10} {'p50 ms':>7} {'p99 ms':>7} | "
          f"{'netns rps':>10} {'p50 ms':>7} {'p99 ms':>7} | {'rps ratio':>9} {'fwd CPU ms/1k req':>18}")
    for r in rows:
        if "setup" in r:
            s = r["setup"]
            print(f"\nper-instance namespace: create + 9 listeners {s['create_ms']:.1f} ms, "
                  f"close + remove {s['remove_ms']:.1f} ms (median of rounds)")
            continue
        d, v = r["direct"], r["netns"]
        print(f"{r['connections']:<16}{r['concurrency']:>5} | {d['rps']:>10,.0f} {d['p50_ms']:>7.2f} {d['p99_ms']:>7.2f} | "
              f"{v['rps']:>10,.0f} {v['p50_ms']:>7.2f} {v['p99_ms']:>7.2f} | {v['rps'] / d['rps']:>9.2f} "
              f"{r['forwarder_cpu_per_1k'] * 1e3:>18.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
