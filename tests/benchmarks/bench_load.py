"""Load engine throughput: ``python -m tests.benchmarks.bench_load [--workers 1]``.

Virtual-instance calls per second per Locust worker core, against three targets, each a burst
of instances whose bootstrap is one long chain of calls (no retries, no local work):

    imds        IMDSv2 GETs (instance identity document) with a token: the fake IMDS alone
    gate        SSM GetParameter over a quota of ~0: every call answered by the gate itself
                (ThrottlingException), SigV4-signed with IMDS-issued credentials
    gate+moto   STS GetCallerIdentity, signed, forwarded by the gate to moto

For each: calls the users made, the workers' own CPU seconds during the run (reported by each
worker from getrusage, Locust's start-up excluded), calls per worker CPU second (the harness
cost: target >= 2,000 against IMDS), and the wall-clock rate (what the fake behind answered:
the fake's cap when the worker is not saturated). Everything shares the machine's cores (the
fakes, the workers, the master), so the wall rate is the fakes' cap *on this machine while it
also runs the load*; the load average is printed so a noisy run shows as one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from sim.engines.load import run  # noqa: E402
from sim.scenario.loader import parse_scenario  # noqa: E402

TARGET_PER_CORE = 2000
_HEAD = """
name: bench-load-{name}
run: {{seed: 1, horizon: 10m}}
fleet: {{size: {size}, arrival: {{kind: burst, at: 0}}, os_boot: {{kind: constant, value: 0}}}}
load: {{workers: {workers}}}
dependencies:
  imds: {{operations: {{PutToken: {{}}, GetCredentials: {{}}, GetIdentity: {{}}}}}}
  ssm: {{operations: {{GetParameter: {{quota: {{rate: 0.001, burst: 1}}}}}}}}
  sts: {{operations: {{GetCallerIdentity: {{}}}}}}
bootstrap:
  steps:
    - {{name: token, call: imds.PutToken, provides: imds_token, timeout: 10s}}
"""
_CREDS = "    - {name: creds, call: imds.GetCredentials, after: [token], provides: credentials, timeout: 10s}\n"
# A throttled call fails its step; `optional` keeps the chain going (the gate case).
CASES = {  # name: (operation, instances, calls per instance, needs credentials)
    "imds": ("imds.GetIdentity", 100, 100, False),
    "gate": ("ssm.GetParameter", 50, 60, True),
    "gate+moto": ("sts.GetCallerIdentity", 32, 20, True),
}


def scenario(name: str, workers: int):
    op, size, chain, creds = CASES[name]
    text = _HEAD.format(name=name.replace("+", "-"), size=size, workers=workers)
    prev = "token"
    if creds:
        text += _CREDS
        prev = "creds"
    for i in range(chain):
        mark = ", mark: ready" if i == chain - 1 else ""
        optional = ", optional: true" if name == "gate" else ""
        text += f"    - {{name: c{i}, call: {op}, after: [{prev}], timeout: 10s{mark}{optional}}}\n"
        prev = f"c{i}"
    return parse_scenario(text, f"bench-{name}.yaml")


def measure(name: str, workers: int) -> dict:
    load0 = os.getloadavg()[0]
    result = run(scenario(name, workers))
    load1 = os.getloadavg()[0]
    op = CASES[name][0]
    dep = result.dependencies[op.split(".")[0]]
    calls = result.load_calls
    target = int(dep.counts["offered"].sum())
    busy = [i for i, n in enumerate(dep.counts["offered"]) if n > 0]
    span = (busy[-1] - busy[0] + 1) * dep.interval if busy else float("nan")
    cpu = sum(v for v in result.load_status.get("worker_cpu_seconds", {}).values() if v)
    outcomes = {o: list(result.attempts.outcome).count(o) for o in set(result.attempts.outcome)}
    return {"name": name, "calls": calls, "target_calls": target, "cpu": cpu,
            "per_core": calls / cpu if cpu else float("nan"), "wall_rps": target / span,
            "load": max(load0, load1), "outcomes": outcomes,
            "cpu_peak": result.load_status.get("worker_cpu_max_percent")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--only", choices=list(CASES), action="append")
    args = p.parse_args(argv)
    print(f"load engine, {args.workers} Locust worker(s), {os.cpu_count()} cores shared with the fakes")
    print(f"{'target':<10} {'calls':>7} {'worker CPU s':>12} {'calls/CPU s':>11} {'wall calls/s':>12} "
          f"{'peak CPU%':>9} {'loadavg':>7}  outcomes")
    rows = []
    for name in args.only or CASES:
        t = time.perf_counter()
        r = measure(name, args.workers)
        rows.append(r)
        print(f"{r['name']:<10} {r['calls']:>7} {r['cpu']:>12.2f} {r['per_core']:>11.0f} {r['wall_rps']:>12.0f} "
              f"{r['cpu_peak'] or 0:>9.0f} {r['load']:>7.2f}  {r['outcomes']}  ({time.perf_counter() - t:.0f}s)")
    imds = next((r for r in rows if r["name"] == "imds"), None)
    if imds is not None:
        ok = imds["per_core"] >= TARGET_PER_CORE
        print(f"IMDS: {imds['per_core']:.0f} calls per worker CPU second (target >= {TARGET_PER_CORE}): "
              f"{'OK' if ok else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
