"""The exec engine: the user's real bootstrap script, run as many processes against the fakes.

    run(scenario, seed=None, progress=None, scenario_file=None, stack=None) -> Run

Modules: ``plan`` (checks and scaled times), ``engine`` (one run's state, setup, signals,
teardown), ``loop`` (launch, wait on pidfds, reap), ``verdicts`` (ready, failed, hung, the
second run), ``process`` (one instance process: environment, process group, CPU),
``assemble`` (attempt rows, marks, the Run), ``series`` (request log -> dependency series), ``calls`` (which calls failed, which are
retries), ``findings`` (what a script did wrong), ``validity`` (was the harness or a fake the
bottleneck). What it shares with the load engine (scaled clock, stack with quotas, series
helpers) is in `sim.engines.live`. See docs/exec-engine.md.
"""

from sim.engines.exec.engine import ExecEngine, run

__all__ = ["run", "ExecEngine"]
