"""How long metrics and the report take for big runs.

``python tests/benchmarks/bench_metrics.py [SIZES...]`` or ``python -m tests.benchmarks.bench_metrics``.

Builds synthetic runs (random but seeded), then times ``summarize`` and ``write_report`` (without
``Run.write``, which is the raw CSV writer and not the report's cost), and ``AttemptTable.read_csv``
(what ``bootstorm report`` and compare pay to re-read a run folder; CPU seconds, which a shared
machine disturbs less than wall time). Prints a table.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file, not with -m: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sim.metrics import summarize  # noqa: E402
from sim.results import AttemptTable, DependencySeries, FaultWindow, Run, RunMeta  # noqa: E402

OUTCOME_CHOICES = np.array(["ready", "failed", "hung", "unfinished"], dtype=object)


def synthetic_run(n_attempts: int, horizon: float = 1800.0, seed: int = 1) -> Run:
    rng = np.random.default_rng(seed)
    steps = ["imds_token", "credentials", "secret", "config", "app"]
    table = AttemptTable(steps)
    launch = np.sort(rng.uniform(0, horizon * 0.6, n_attempts))
    start = launch + rng.gamma(4.0, 5.0, n_attempts)
    agent = start + rng.gamma(2.0, 1.0, n_attempts)
    secret = agent + rng.lognormal(0.0, 1.0, n_attempts)
    app = secret + rng.gamma(3.0, 2.0, n_attempts)
    ready = app + rng.gamma(2.0, 3.0, n_attempts)
    outcome = rng.choice(OUTCOME_CHOICES, n_attempts, p=[0.95, 0.03, 0.01, 0.01])
    ready_time = np.where(outcome == "ready", ready, math.nan)
    retries = rng.poisson(0.7, (n_attempts, len(steps)))
    instance = np.arange(n_attempts) - (rng.random(n_attempts) < 0.05)  # some restarts
    instance = np.maximum(instance, 0)
    # Fill the columns directly: appending a million rows one by one would time AttemptTable.
    f, i = table._floats, table._ints
    never = np.full(n_attempts, math.nan)
    for name, values in (("launch", launch), ("start", start), ("end", ready),
                         ("ready_time", ready_time), ("cpu_seconds", never),
                         ("mark_agent_started", agent), ("mark_secret_fetched", secret),
                         ("mark_app_started", app), ("mark_config_validated", never),
                         ("mark_ready", ready_time)):
        f[name].frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    attempt = np.ones(n_attempts, dtype=np.int64)
    for name, values in (("instance", instance), ("attempt", attempt), ("retries", retries.sum(1)),
                         ("calls", retries.sum(1) + len(steps))):
        i[name].frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    table._step_retries.frombytes(np.ascontiguousarray(retries, dtype=np.int64).tobytes())
    table.outcome = outcome.tolist()
    table.error_class = np.where(outcome == "failed", "ThrottlingException", "").tolist()
    table.failed_step = np.where(outcome == "failed", "secret", "").tolist()
    table.findings = [""] * n_attempts
    deps = {}
    for name in ("imds", "sts", "secretsmanager"):
        s = DependencySeries.empty(name, 1.0, horizon, 500.0)
        n = s.n
        s.counts["needed"][:] = rng.poisson(n_attempts / horizon, n)
        s.counts["offered"][:] = s.counts["needed"] + rng.poisson(5, n)
        s.counts["throttled"][:] = rng.poisson(3, n)
        s.counts["served"][:] = s.counts["offered"] - s.counts["throttled"]
        s.latency_hist[:, 120:140] = rng.poisson(2, (n, 20))
        deps[name] = s
    meta = RunMeta("sim", seed, "bench", "0", None, horizon, "2026-01-01T00:00:00Z",
                   sim_end=horizon, instances=int(instance.max()) + 1)
    faults = [FaultWindow("throttle", "sts", 300.0, 420.0)]
    scenario = {"slos": ["time_to_ready.p95 <= 90s", "bootstrap_success_rate >= 99%"]}
    return Run(meta, table, deps, faults, scenario)


def main(sizes=(10_000, 100_000, 1_000_000)) -> None:
    from sim.report import write_report

    print(f"{'attempts':>10} {'summarize s':>12} {'write_report s':>15} {'read_csv cpu s':>15}")
    for n in sizes:
        run = synthetic_run(n)
        t0 = time.perf_counter()
        summarize(run)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            write_report(run, Path(folder))
            t2 = time.perf_counter()
            run.attempts.write_csv(Path(folder) / "attempts.csv")
            c0 = time.process_time()
            AttemptTable.read_csv(Path(folder) / "attempts.csv")
            read_cpu = time.process_time() - c0
        print(f"{n:>10,} {t1 - t0:>12.2f} {t2 - t1:>15.2f} {read_cpu:>15.2f}")


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or (10_000, 100_000, 1_000_000))
