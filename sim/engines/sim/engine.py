"""The sim engine: a whole fleet booting against modelled dependencies, as discrete events.

``run(scenario, seed)`` builds the model, launches instances on the arrival shape, applies the
fault timeline, and returns a Run. It draws every random number from one
``random.Random(seed)``; the clock (``clock.py``, a ``simpy.Environment``) breaks ties at the
same time by insertion order; so the same seed and scenario give the same numbers.
"""

from __future__ import annotations

import gc
import math
import platform
import random
import time
from datetime import datetime, timezone

from sim.arrivals import launch_times
from sim.engines.sim.boot import Boot
from sim.engines.sim.clock import Clock, Deadlines
from sim.engines.sim.compiled import compile_scenario
from sim.engines.sim.dependency import DependencyModel
from sim.engines.sim.faults import schedule_faults
from sim.engines.sim.network import NetworkedDependency
from sim.results import AttemptTable, Run, RunMeta
from sim.scenario.loader import scenario_hash
from sim.scenario.model import Scenario

__all__ = ["run", "SimEngine"]


def run(scenario: Scenario, seed: int | None = None, progress=None, scenario_file=None) -> Run:
    """Simulate ``scenario``; ``seed`` overrides ``scenario.run.seed``.

    ``progress(sim_time, horizon, finished_instances, size)`` is called now and then.
    """
    return SimEngine(scenario, seed, progress, scenario_file).run()


class SimEngine:
    def __init__(self, scenario: Scenario, seed=None, progress=None, scenario_file=None):
        self.scenario = scenario
        self.seed = scenario.run.seed if seed is None else seed
        self.progress = progress
        self.scenario_file = scenario_file
        self.model = compile_scenario(scenario)
        self.clock = Clock()
        self.later = self.clock.later
        self.rng = random.Random(self.seed)
        self.horizon = scenario.run.horizon
        model = self.model
        self.deps = []
        for d, name in enumerate(model.dep_names):
            op_indexes = [i for i, op in enumerate(model.ops) if op.dep == d]
            spec = scenario.dependencies[name]
            cls = NetworkedDependency if spec.network is not None else DependencyModel
            self.deps.append(cls(
                self.clock, self.rng, name, spec, model.ops, op_indexes,
                scenario.run.interval, self.horizon, model.capacity_rps(d),
            ))
        # Policies with no per-client state share one client object (saves a million dicts).
        shared = {}
        self.shared_client_of = []
        self.dep_of = []
        for step in model.steps:
            p = step.policy
            if not (p.quota or p.adaptive or p.budget or p.throttle or p.breaker):
                shared.setdefault(p, p.new_client())
            self.shared_client_of.append(shared.get(p))
            self.dep_of.append(self.deps[model.ops[step.op].dep] if step.op >= 0 else None)
        self.token_revoked_before = -math.inf
        self.creds_revoked_before = -math.inf
        self.table = AttemptTable(model.step_names)
        self.size = scenario.fleet.size
        self.finished = 0
        self.active: set[Boot] = set()
        fleet = scenario.fleet
        self.replacement = fleet.replacement
        self.grace = (Deadlines(self.clock, fleet.health_check_grace, self._grace_over)
                      if fleet.health_check_grace is not None else None)
        self.boot_deadline = (Deadlines(self.clock, self.model.boot_deadline,
                                        self._deadline_over)
                              if self.model.boot_deadline is not None else None)
        self._launches = launch_times(fleet.arrival, self.size, self.rng)
        self._next_instance = 0

    # -- the run ------------------------------------------------------------------------
    def run(self) -> Run:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        wall = time.perf_counter()
        clock = self.clock
        self.fault_windows = schedule_faults(self)
        self._launch_due()
        self.later(self.horizon, self._end)
        if self.progress is not None:
            self._tick_every = max(self.horizon / 200.0, 1.0)
            self.later(0, self._tick)
        # The model makes millions of small objects and almost no reference cycles; Python's
        # cyclic collector would rescan all of them again and again (4x slower at 100k).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            clock.run()
        finally:
            if gc_was_enabled:
                gc.enable()
        end = min(clock.now, self.horizon)
        for boot in sorted(self.active, key=lambda b: (b.instance, b.attempt)):
            # Ready, with steps after the ready mark still running: it is ready.
            self._record(boot, "ready" if boot.ready_at == boot.ready_at else "unfinished", end)
        self.active.clear()
        if self.progress is not None:
            self.progress(end, self.horizon, self.finished, self.size)
        meta = RunMeta(
            engine="sim",
            seed=self.seed,
            scenario_name=self.scenario.name,
            scenario_hash=scenario_hash(self.scenario),
            scenario_file=self.scenario_file,
            horizon=self.horizon,
            started_at=started,
            wall_seconds=time.perf_counter() - wall,
            versions=_versions(),
            sim_end=end,
            instances=self.size,
        )
        series = {d.name: d.series(end) for d in self.deps}
        return Run(meta, self.table, series, self.fault_windows,
                   self.scenario.model_dump(mode="json", by_alias=True))

    def _end(self, _value=None):
        self.clock.stop()

    def _tick(self, _value):
        self.progress(self.clock.now, self.horizon, self.finished, self.size)
        self.later(self._tick_every, self._tick)

    # -- launches -----------------------------------------------------------------------
    def _launch_due(self, _value=None):
        """Launch every instance due now, then wake up when the next one is due."""
        now = self.clock._now
        for t in self._launches:
            if t > now:
                self.later(t - now, self._launch_at, t)
                return
            self._launch(self._next_instance, 1, now, now)
            self._next_instance += 1

    def _launch_at(self, t):
        self._launch(self._next_instance, 1, t, t)
        self._next_instance += 1
        self._launch_due()

    def _launch(self, instance, attempt, now, first_launch):
        boot = Boot(self, instance, attempt, now, first_launch)
        self.active.add(boot)
        self.later(self.model.os_boot(self.rng), self._os_booted, boot)
        if self.grace is not None:
            self.grace.add(boot)

    def _os_booted(self, boot):
        if boot.done:
            return
        self._begin(boot)

    def _begin(self, boot):
        now = self.clock._now
        if self.boot_deadline is not None:
            self.boot_deadline.add(boot)
        boot.begin(now)

    def _grace_over(self, boot):
        if not boot.done and boot.ready_at != boot.ready_at:  # not ready (NaN) yet
            self.finish(boot, "hung", self.clock._now, "HealthCheckGraceExceeded", boot.running_step())

    def _deadline_over(self, boot):
        if not boot.done and boot.ready_at != boot.ready_at:
            self.finish(boot, "failed", self.clock._now, "BootstrapDeadlineExceeded", boot.running_step())

    # -- step callbacks (shared, so no closure per step) --------------------------------
    def on_work_done(self, value):
        boot, i = value
        if boot.done:
            return
        step = self.model.steps[i]
        now = self.clock._now
        if step.fail_p and self.rng.random() < step.fail_p:
            boot.step_failed(i, step.fail_code, now)
        else:
            boot.step_ok(i, now)

    def on_cache_hit(self, value):
        boot, i = value
        if not boot.done:
            boot.step_ok(i, self.clock._now)

    # -- the end of an attempt ----------------------------------------------------------
    def finish(self, boot, outcome, now, error_class="", failed_step=""):
        boot.done = True
        self.active.discard(boot)
        self._record(boot, outcome, now, error_class, failed_step)
        boot.release()
        rep = self.replacement
        if outcome != "ready" and rep.enabled and boot.attempt < rep.max_attempts:
            self.later(rep.backoff.delay(boot.attempt, self.rng), self._relaunch, boot)
            return
        self.finished += 1
        if self.finished >= self.size:
            self._stop_when_idle()

    def _stop_when_idle(self):
        """Every instance is done: stop once the dependencies have finished the work they
        still hold (abandoned calls keep a server busy; that is part of what happened)."""
        if all(d.idle for d in self.deps):
            self._end()
        else:
            for d in self.deps:
                d.on_idle = self._stop_when_idle

    def _relaunch(self, old):
        now = self.clock._now
        if self.replacement.mode == "replace":
            self._launch(old.instance, old.attempt + 1, now, old.first_launch)
        else:
            boot = Boot(self, old.instance, old.attempt + 1, now, old.first_launch)
            self.active.add(boot)
            if self.grace is not None:
                self.grace.add(boot)
            self._begin(boot)

    def _record(self, boot, outcome, now, error_class="", failed_step=""):
        self.table.append(
            instance=boot.instance,
            attempt=boot.attempt,
            launch=boot.launch,
            start=boot.start,
            end=now,
            ready_time=boot.ready_at,
            outcome=outcome,
            error_class=error_class,
            failed_step=failed_step,
            retries=boot.retries,
            calls=boot.calls,
            step_retries=boot.step_retries,
            marks=boot.marks,
        )

def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("bootstorm", "simpy", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
