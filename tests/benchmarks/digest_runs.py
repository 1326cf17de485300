"""A digest of every column of the Run, for every shipped scenario: is a change to the sim
engine byte-for-byte the same model?

    python tests/benchmarks/digest_runs.py > before.txt      # on main
    python tests/benchmarks/digest_runs.py > after.txt       # with the change
    diff before.txt after.txt                                 # nothing: the same runs

Each scenario runs once with its shipped seed at a size that exercises its faults (the retry
storms cross their trigger); the digest covers every attempt column (floats, integers, per-step
retries, outcomes, error classes, failed steps, findings), every dependency series and latency
histogram, and the end time. The golden files (tests/unit/test_golden.py) check rounded
summaries; this checks every number. Used for the engine optimisations in
docs/sim-performance.md.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZES = {
    "autoscale-storm": ["fleet.size=3000"],
    "retry-storm": ["fleet.size=4000", "fleet.arrival.rate=10", "run.horizon=8m"],
    "retry-storm-jitter": ["fleet.size=4000", "fleet.arrival.rate=10", "run.horizon=8m"],
}
DEFAULT = ["fleet.size=1000"]


def digest(run) -> str:
    h = hashlib.sha256()
    t = run.attempts
    for name in sorted(t._floats):
        h.update(name.encode())
        h.update(bytes(t._floats[name]))
    for name in sorted(t._ints):
        h.update(name.encode())
        h.update(bytes(t._ints[name]))
    h.update(bytes(t._step_retries))
    for column in (t.outcome, t.error_class, t.failed_step, t.findings):
        h.update("|".join(column).encode())
    for name in sorted(run.dependencies):
        series = run.dependencies[name]
        for field in sorted(series.counts):
            h.update(field.encode())
            h.update(series.counts[field].tobytes())
        h.update(series.latency_hist.tobytes())
    h.update(repr(run.meta.sim_end).encode())
    return h.hexdigest()[:16]


def main() -> int:
    sys.path.insert(0, ROOT)
    from sim.engines.sim import run
    from sim.scenario import load_scenario

    for path in sorted(glob.glob(os.path.join(ROOT, "scenarios", "*.yaml"))):
        name = os.path.basename(path)[: -len(".yaml")]
        result = run(load_scenario(path, SIZES.get(name, DEFAULT)))
        print(f"{name:<20} {len(result.attempts):>6} attempts  {digest(result)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
