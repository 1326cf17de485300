"""The exec engine: the user's own bootstrap script, many copies at once, against the fakes.

``run(scenario, seed)`` starts the fakes stack (or uses one given) with the scenario's
per-operation quotas on the AWS API gate (rates per scenario second), launches one process per
boot attempt on the scenario's arrival shape in wall-clock time (scaled by
``exec.time_scale``), applies the fault timeline as the clock passes, decides each attempt's
outcome from outside the script (registry sink, exit status, timeouts), and returns the same
Run schema as the sim engine. Times in the Run are real seconds since the run started.

One thread does all of it: a selector on pidfds wakes the loop when a child exits, otherwise
it wakes for the next launch, deadline or registry poll (``POLL``). SIGINT/SIGTERM only set a
flag; the loop then stops launching, kills every process group, stops the stack, removes the
temporary directory, and the Run comes back marked ``partial``.

Isolation (``exec.isolation``, `sim.engines.exec.isolation`): with ``netns`` each attempt runs
in its own network namespace whose 169.254.169.254 is its own IMDS and whose AWS endpoints
reach the fakes; namespaces are made before the clock starts and removed when the attempt is
over and in the ``finally`` on every exit path. With ``env`` the host network is shared.

Bootstraps run at ``exec.nice`` (default 10): the fakes stand for services on other machines
and must not be starved by the processes under test. A given stack is reset first and left
running. A script that cannot even be started (no shell, no file descriptors left) fails the
run with `RunFailed`; everything after that is data in the Run.

Simplifications, by design: an attempt starts its script at its launch time (no OS boot
delay); each attempt gets its own instance id (restart keeps the root directory, so what the
script left on disk survives, but IMDS sees a new instance); ``boot_timeout`` is not scaled.
An attempt queued for a ``max_parallel`` slot starts late; its boot timeout and health-check
grace both run from its process start. Every ``CPU_SAMPLE`` seconds the running groups' CPU is
read from /proc, so ``busy_wait`` can judge the CPU spent while an attempt was failing.
"""

from __future__ import annotations

import math
import random
import selectors
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sim.engines.exec.assemble import Attempt, assemble
from sim.engines.exec.isolation import EnvIsolation, choose_isolation, isolation_notes
# POLL and CPU_SAMPLE live in loop.py; imported here so engine.POLL (in __all__) still works
from sim.engines.exec.loop import CPU_SAMPLE, POLL, Supervisor  # noqa: F401
from sim.engines.exec.plan import plan_exec
from sim.engines.exec.verdicts import Verdicts
from sim.engines.interrupts import flag_interrupts, restore_signals
from sim.engines.live.stack import open_stack
from sim.errors import RunFailed
from sim.results import Run
from sim.scenario.model import Scenario

__all__ = ["run", "ExecEngine", "POLL"]


def run(scenario: Scenario, seed: int | None = None, progress=None, scenario_file=None,
        stack=None) -> Run:
    """Run ``scenario`` for real; ``stack``: an already started Stack to use (it is reset
    first and left running), else one is started and stopped here."""
    return ExecEngine(scenario, seed, progress, scenario_file, stack).run()


class ExecEngine(Supervisor, Verdicts):
    """One exec run: its state, setup and teardown here; the loop in `Supervisor`
    (`loop.py`), the attempts' outcomes in `Verdicts` (`verdicts.py`)."""

    def __init__(self, scenario: Scenario, seed=None, progress=None, scenario_file=None, stack=None):
        self.scenario = scenario
        self.spec = scenario.exec
        self.seed = scenario.run.seed if seed is None else seed
        self.progress = progress
        self.scenario_file = scenario_file
        self.given_stack = stack
        self.workdir = Path.cwd()  # scripts run where bootstorm was started
        self.plan = plan = plan_exec(scenario)  # every InvalidInput before anything starts
        self.command, self.size, self.horizon, self.grace = plan.command, plan.size, plan.horizon, plan.grace
        self.finding_config = plan.finding_config
        self.rng = random.Random(self.seed)
        self.attempts: list[Attempt] = []
        self.running: set[Attempt] = set()  # first process running or its verdict pending
        self.seconds: set[Attempt] = set()  # idempotency second runs in progress
        self.finished = 0
        self._pending: list[tuple[float, int, int, int, float]] = []  # (t, seq, inst, attempt, first)
        self._seq = 0
        self.interrupted = False
        self.stack = None
        # chosen in run(): netns where possible (exec.isolation); ``isolation`` is its mode name
        self.isolator = EnvIsolation()
        self.isolation = "env"
        self.t0 = math.nan
        self._selector = selectors.DefaultSelector()
        self._poll_due = 0.0
        self._load_peak = 0.0

    # -- lifecycle ----------------------------------------------------------------------
    def run(self):
        from fakes.stack import FaultTimeline, check_scenario

        scenario = self.scenario
        notes = [f"exec: {w}" for w in check_scenario(scenario)]  # InvalidInput for faults
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        previous = flag_interrupts(self)
        self.tmp = Path(tempfile.mkdtemp(prefix="bootstorm-exec-"))
        timeline = None
        owned = self.given_stack is None
        try:
            self.isolator = choose_isolation(self.spec.isolation)
            self.isolation = self.isolator.mode
            notes += isolation_notes(self.isolator, self.plan.faults)
            self.stack = open_stack(scenario, self.given_stack, self.plan.clock)
            self.isolator.setup(self.stack)
            self.isolator.prepare(min(self.size, self.spec.max_parallel))
            self.planted = self.stack.planted_secrets()
            from sim.engines.exec.validity import HarnessMeter

            meter = HarnessMeter().start()
            self.t0, self.t0_wall = time.monotonic(), time.time()
            timeline = FaultTimeline(self.stack, self.plan.faults).start(self.t0)
            for i, t in enumerate(self.plan.launches(scenario, self.rng)):
                self._push(t, i, 1, t)
            if not self.interrupted:
                self._loop()
            end = min(self.elapsed(), self.horizon)
            self._stop_processes(end)
            timeline.stop()
            usage = self.usage = meter.stop()
            result = assemble(self, end, started, timeline.records, usage, notes)
        finally:
            self._stop_processes(self.elapsed() if self.t0 == self.t0 else 0.0)
            if timeline is not None:
                timeline.stop()
            cleanup_error = None
            try:
                self.isolator.close()  # namespaces and forwarder: before the fakes go
            except RunFailed as exc:
                cleanup_error = exc
            if owned and self.stack is not None:
                self.stack.stop()
            elif self.stack is not None:
                self.stack.imds_listeners = False
            self._selector.close()
            if not self.spec.keep_files:
                shutil.rmtree(self.tmp, ignore_errors=True)
            restore_signals(previous)
            if cleanup_error is not None:
                raise cleanup_error
        return result

    def elapsed(self) -> float:
        return time.monotonic() - self.t0
