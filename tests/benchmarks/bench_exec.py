"""Benchmark: many concurrent real bootstraps through the exec engine, and what the harness costs.

    python tests/benchmarks/bench_exec.py                 # 200 reference bootstraps at once
    python tests/benchmarks/bench_exec.py --instances 50 --over 10
    python tests/benchmarks/bench_exec.py --isolation env   # vs netns: what the namespaces cost

Runs ``scenarios/bootstraps/reference.py`` (IMDSv2 token, identity, role credentials, a secret,
a parameter, agent and app telemetry, registration), or a small built-in boto3 bootstrap making
the same calls when the reference script is missing. Prints: instances, wall time, the
harness's own CPU as a share of one core (target: under 10 %), p50/p95 time to ready, and each
fake's peak requests per second against its documented capacity.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sim.engines.exec.engine import ExecEngine  # noqa: E402
from sim.scenario import parse_scenario  # noqa: E402

REFERENCE = REPO / "scenarios" / "bootstraps" / "reference.py"
FALLBACK = r'''
import json, os, urllib.request
import boto3
from botocore.config import Config
iid = os.environ["BOOTSTORM_INSTANCE_ID"]
def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=5).read()
post(os.environ["BOOTSTORM_TELEMETRY_URL"] + "/telemetry", {"instance_id": iid, "source": "agent", "kind": "event"})
cfg = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard"})
boto3.client("secretsmanager", config=cfg).get_secret_value(SecretId="app/db-password")
boto3.client("ssm", config=cfg).get_parameter(Name="/app/config")
post(os.environ["BOOTSTORM_TELEMETRY_URL"] + "/telemetry", {"instance_id": iid, "source": "app", "kind": "event"})
post(os.environ["BOOTSTORM_REGISTRY_URL"] + "/register", {"instance_id": iid})
'''
FAKE_OF = {"imds": "imds", "registry": "sinks", "telemetry": "sinks"}  # the rest: moto via the gate


def scenario(command: str, instances: int, over: float, isolation: str = "auto"):
    arrival = {"kind": "burst"} if over <= 0 else {"kind": "ramp", "over": over}
    doc = {
        "name": "bench-exec",
        "run": {"horizon": "10m"},
        "fleet": {"size": instances, "arrival": arrival},
        "dependencies": {
            "imds": {"concurrency": 1000, "service_time": "1ms", "operations": {"PutToken": {}}},
            "secretsmanager": {"concurrency": 100, "service_time": "20ms", "operations": {"GetSecretValue": {}}},
            "ssm": {"concurrency": 100, "service_time": "20ms", "operations": {"GetParameter": {}}},
            "registry": {"concurrency": 64, "service_time": "10ms", "operations": {"Register": {}}},
            "telemetry": {"concurrency": 64, "service_time": "10ms", "operations": {"Event": {}}},
        },
        "bootstrap": {"steps": [{"name": "register", "call": "registry.Register", "mark": "ready"}]},
        "exec": {"command": command, "instances": instances, "max_parallel": instances,
                 "boot_timeout": "5m", "isolation": isolation},
    }
    return parse_scenario(json.dumps(doc), file="<bench-exec>")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--over", type=float, default=0.0, help="ramp seconds (0: all at once)")
    ap.add_argument("--isolation", choices=("auto", "netns", "env"), default="auto",
                    help="exec.isolation (netns: a namespace and forwarder per instance)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if REFERENCE.exists():
            command, which = f"{sys.executable} {REFERENCE}", "reference.py"
        else:
            path = Path(tmp) / "bootstrap.py"
            path.write_text(FALLBACK)
            command, which = f"{sys.executable} {path}", "built-in boto3 bootstrap"
        engine = ExecEngine(scenario(command, args.instances, args.over, args.isolation))
        run = engine.run()
    usage = engine.usage
    t = run.attempts
    ready = t.column("ready_time") - t.column("launch")
    ready = ready[~np.isnan(ready)]
    outcomes = {o: list(t.outcome).count(o) for o in sorted(set(t.outcome))}
    cpu = t.column("cpu_seconds")
    peaks: dict[str, np.ndarray] = {}
    for name, series in run.dependencies.items():
        per_second = series.counts["offered"] / series.interval
        fake = FAKE_OF.get(name, "moto")
        peaks[fake] = per_second if fake not in peaks else peaks[fake] + per_second
    capacity = {"imds": 6500, "sinks": 1500, "moto": 200}
    try:
        from fakes.stack.reading import capacity as documented

        capacity.update({k: v["rps"] for k, v in documented().items() if v.get("rps")})
    except ImportError:
        pass
    share = usage.cpu_seconds / usage.wall_seconds if usage.wall_seconds else math.nan
    rows = [
        ("bootstrap", which),
        ("isolation", run.meta.isolation),
        ("instances", f"{args.instances} ({', '.join(f'{k} {v}' for k, v in outcomes.items())})"),
        ("error classes", ", ".join(f"{k} {v}" for k, v in sorted(
            {e: list(t.error_class).count(e) for e in set(t.error_class) if e}.items())) or "-"),
        ("wall (launch to last outcome)", f"{usage.wall_seconds:.1f} s"),
        ("harness CPU", f"{usage.cpu_seconds:.2f} s = {share:.1%} of one core (target < 10%)"),
        ("harness CPU by thread", ", ".join(f"{k} {v:.2f}s" for k, v in sorted(usage.threads.items())
                                            if v >= 0.01) or "-"),
        ("bootstrap CPU", f"{np.nansum(cpu):.1f} s total, {np.nanmean(cpu):.2f} s per boot"),
        ("time to ready p50 / p95", f"{np.percentile(ready, 50):.2f} s / {np.percentile(ready, 95):.2f} s"
         if len(ready) else "-"),
    ]
    for fake in sorted(peaks):
        peak, cap = float(peaks[fake].max()), capacity.get(fake)
        rows.append((f"peak rps {fake}", f"{peak:.0f}/s of {cap}/s ({peak / cap:.0%})" if cap else f"{peak:.0f}/s"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for w in run.meta.warnings:
        print(f"warning: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
