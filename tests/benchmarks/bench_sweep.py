"""Benchmark: a sweep of the 20,000-instance autoscale storm, 1 worker against N workers.

    python tests/benchmarks/bench_sweep.py                          # 50 points x 10 seeds (long)
    python tests/benchmarks/bench_sweep.py --points 4 --seeds 2     # a reduced check

The points vary SSM GetParameter's quota (``--points`` values evenly from 20/s to 1,000/s, so
the runs range from a heavy storm to none); every point runs ``--seeds`` seeds. The same sweep
runs once per worker count in ``--workers`` (default 1 and 2), each into a fresh folder, through
the library path ``bootstorm sweep`` uses (process pool start-up included, plots off), and the
table shows wall time, runs per second and the speed-up over 1 worker (issue #8's target:
>= 1.8x on 2 cores). The machine is shared and noisy: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(ROOT, "scenarios", "autoscale-storm.yaml")
QUOTA = "dependencies.ssm.operations.GetParameter.quota.rate"
TARGET = 1.8


def sweep_seconds(points: int, seeds: int, size: int, workers: int) -> tuple[float, float, int]:
    sys.path.insert(0, ROOT)
    from sim.decide import open_executor, prepare_sweep, run_sweep, sweep_folder

    step = (1000 - 20) / max(1, points - 1)
    values = ",".join(str(round(20 + i * step)) for i in range(points))
    plan = prepare_sweep(SCENARIO, [f"{QUOTA}={values}"], seeds=seeds,
                         overrides=[f"fleet.size={size}"])
    with tempfile.TemporaryDirectory() as out:
        cpu_before = _children_cpu()
        started = time.perf_counter()
        with open_executor(workers=workers) as executor:
            result = run_sweep(plan, executor, sweep_folder(plan, out), plots=False)
        wall = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before  # the workers, reaped when the pool shut down
    return wall, cpu, result.ran


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--size", type=int, default=20000, help="fleet.size (default 20,000)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    print(f"sweep: autoscale storm, {args.size:,} instances, {args.points} points x "
          f"{args.seeds} seeds = {args.points * args.seeds} runs; cores available: "
          f"{len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.1f}")
    rows = []
    for w in args.workers:
        wall, cpu, runs = sweep_seconds(args.points, args.seeds, args.size, w)
        rows.append((w, wall, cpu, runs))
        print(f"  {w} worker(s): {wall:.1f} s", flush=True)
    base = next((wall for w, wall, _, _ in rows if w == 1), None)
    # "cores got": worker CPU seconds / wall seconds. On a shared machine 2 workers may get
    # far less than 2 cores; then the speed-up measures the neighbours, not the sweep.
    print(f"\n{'workers':>8} {'wall s':>9} {'cpu s':>8} {'cores got':>10} {'runs':>6} "
          f"{'runs/s':>8} {'speed-up':>9}")
    for w, wall, cpu, runs in rows:
        speedup = f"{base / wall:.2f}x" if base else "-"
        print(f"{w:>8} {wall:>9.1f} {cpu:>8.1f} {cpu / wall:>10.2f} {runs:>6} "
              f"{runs / wall:>8.3f} {speedup:>9}")
    if base and len(rows) > 1:
        best = max(base / wall for _, wall, _, _ in rows)
        print(f"\ntarget: >= {TARGET}x on 2 cores; measured best {best:.2f}x "
              f"({'met' if best >= TARGET else 'NOT met'}; load average now "
              f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
