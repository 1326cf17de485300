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

import heapq
import math
import os
import random
import selectors
import shutil
import signal
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sim.engines.exec.assemble import Attempt, assemble
from sim.engines.exec.findings import SecondRun
from sim.engines.exec.isolation import EnvIsolation, choose_isolation, isolation_notes
from sim.engines.exec.plan import plan_exec
from sim.engines.exec.process import InstanceProcess, file_snapshot, groups_cpu, instance_env, stop_all
from sim.engines.interrupts import flag_interrupts, restore_signals
from sim.engines.live.plan import instance_id
from sim.engines.live.stack import open_stack
from sim.errors import RunFailed
from sim.results import Run
from sim.scenario.model import Scenario

__all__ = ["run", "ExecEngine", "POLL"]

POLL = 0.2  # seconds between registry polls and deadline checks while waiting
CPU_SAMPLE = 0.5  # seconds between CPU samples of the running attempts (one /proc scan)
_REPO_ROOT = Path(__file__).resolve().parents[3]


def run(scenario: Scenario, seed: int | None = None, progress=None, scenario_file=None,
        stack=None) -> Run:
    """Run ``scenario`` for real; ``stack``: an already started Stack to use (it is reset
    first and left running), else one is started and stopped here."""
    return ExecEngine(scenario, seed, progress, scenario_file, stack).run()


class ExecEngine:
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

    # -- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        last_tick = last_cpu = -math.inf
        while not self.interrupted:
            now = self.elapsed()
            if now >= self.horizon:
                return
            self._launch_due(now)
            self._reap_all()
            now = self.elapsed()
            self._deadlines(now)
            if now >= self._poll_due and self._waiting_for_registry():
                self._poll_registry()
                self._poll_due = now + POLL
            if self.finished >= self.size and not self.seconds and not self._pending:
                return
            if now - last_cpu >= CPU_SAMPLE:
                last_cpu = now
                self._sample_cpu(now)
            if now - last_tick >= 1.0:
                last_tick = now
                self._load_peak = max(self._load_peak, os.getloadavg()[0])
                if self.progress is not None:
                    self.progress(now, self.horizon, self.finished, self.size)
            wait = POLL
            if self._pending and not self._full():  # when full, an exit is what frees a slot
                wait = min(wait, max(0.0, self._pending[0][0] - now))
            self._selector.select(wait)  # wakes on any exit: _reap_all collects it

    def _sample_cpu(self, now: float) -> None:
        """Each running attempt's CPU so far, so busy_wait can judge the failing spans only."""
        live = [a for a in self.running if a.proc.running and a.outcome is None]
        if not live:
            return
        cpu = groups_cpu({a.proc.pid for a in live})
        for a in live:
            if a.proc.pid in cpu:
                a.cpu_samples.append((now, cpu[a.proc.pid]))

    def _push(self, t, instance, attempt, first_launch) -> None:
        heapq.heappush(self._pending, (t, self._seq, instance, attempt, first_launch))
        self._seq += 1

    def _launch_due(self, now: float) -> None:
        pending = self._pending
        while pending and pending[0][0] <= now and not self._full() and not self.interrupted:
            t, _, instance, attempt, first_launch = heapq.heappop(pending)
            self._launch(instance, attempt, t, first_launch)

    def _full(self) -> bool:
        return len(self.running) + len(self.seconds) >= self.spec.max_parallel

    def _launch(self, instance: int, attempt: int, launch: float, first_launch: float) -> None:
        iid = instance_id(instance, attempt)
        restart = self.scenario.fleet.replacement.mode == "restart"
        root = self.tmp / "roots" / (f"{instance}" if restart else f"{instance}-{attempt}")
        root.mkdir(parents=True, exist_ok=True)
        stack_env, prefix = self.isolator.add(iid, self.stack)
        env = instance_env(stack_env, root, _REPO_ROOT, self.spec.env)
        a = Attempt(instance, attempt, iid, root, launch, first_launch, env)
        logs = self.tmp / "logs"
        logs.mkdir(exist_ok=True)
        a.proc = self._spawn(env, root, logs / f"{instance}-{attempt}", prefix)
        a.start = a.proc.started - self.t0
        self.attempts.append(a)
        self.running.add(a)

    def _spawn(self, env, root, prefix, argv_prefix=None) -> InstanceProcess:
        try:
            proc = InstanceProcess(self.command, env, root, prefix, self.spec.nice,
                                   self.workdir, argv_prefix).start()
        except OSError as exc:
            raise RunFailed(f"exec engine: could not start {self.command!r} in {root}: {exc}") from exc
        if proc.pidfd is not None:
            self._selector.register(proc.pidfd, selectors.EVENT_READ, proc)
        return proc

    def _reap_all(self) -> None:
        for a in list(self.running):
            p = a.proc
            if p.running and p.reap():
                self._forget(p)
            if p.running:
                continue
            if a.outcome is None and not a.verdict_pending:
                self._exited(a)
            if a.outcome is None or a.verdict_pending:
                continue
            if a.outcome == "ready" and self.spec.idempotency_check and a.second is None:  # ready, then exited
                self._start_second(a)
            self.running.discard(a)
            if a not in self.seconds:
                self.isolator.release(a.instance_id)
        for a in list(self.seconds):
            if a.second.running and a.second.reap():
                self._forget(a.second)
            if not a.second.running:
                self._second_done(a)

    def _forget(self, proc: InstanceProcess) -> None:
        """The leader was reaped: unregister its pidfd before closing it (a closed fd's number
        comes back for another file), and look once whether its group is empty now."""
        if proc.pidfd is not None:
            self._selector.unregister(proc.pidfd)
            proc.close_fd()
        proc.group_alive()

    # -- outcomes -----------------------------------------------------------------------
    def _exited(self, a: Attempt) -> None:
        p, when = a.proc, a.proc.exited - self.t0
        if p.exit_code == 0 and self.spec.ready_when == "exit_zero":
            self._ready(a, when)
        elif p.exit_code == 0 and self.spec.ready_when == "both":
            if a.registered_at == a.registered_at:
                self._ready(a, max(when, a.registered_at))
            else:  # the registration (if any) reached the sink before the exit: ask it now
                a.verdict_pending = True
                self._poll_due = 0.0
        elif p.exit_code == 0:  # registered-only: exited without registering
            self._fail(a, when, "failed", "NotRegistered")
        else:
            self._fail(a, when, "failed", p.error_class())

    def _waiting_for_registry(self) -> bool:
        return self.spec.ready_when != "exit_zero" and any(
            a.outcome is None and a.registered_at != a.registered_at for a in self.running)

    def _poll_registry(self) -> None:
        try:
            summary = self.stack.sink_summary()
        except Exception:  # a dead fake is reported by the stack; the run ends on its own
            summary = {}
        for a in list(self.running):
            row = summary.get(a.instance_id) or {}
            mono = row.get("registered_monotonic")
            if mono is not None and a.registered_at != a.registered_at:
                a.registered_at = mono - self.t0
            if a.outcome is not None:
                continue
            if self.spec.ready_when == "registered" and a.registered_at == a.registered_at:
                self._ready(a, a.registered_at)
            elif a.verdict_pending:
                a.verdict_pending = False
                when = a.proc.exited - self.t0
                if a.registered_at == a.registered_at:
                    self._ready(a, max(when, a.registered_at))
                else:
                    self._fail(a, when, "failed", "NotRegistered")

    def _deadlines(self, now: float) -> None:
        timeout = self.spec.boot_timeout
        for group in (self.running, self.seconds):
            for a in list(group):
                p = a.second if group is self.seconds else a.proc
                if p.running and not math.isnan(p.term_sent):
                    if time.monotonic() - p.term_sent >= self.spec.kill_grace:
                        p.signal_group(signal.SIGKILL)
                    continue
                if a.outcome is not None and group is self.running:
                    continue
                if p.running and time.monotonic() - p.started >= timeout:
                    p.terminate()
                    a.killed_at_timeout = group is self.running
                    if group is self.running:
                        self._fail(a, now, "hung", "BootTimeoutExceeded")
                elif group is self.running and self.grace is not None and now - a.start >= self.grace:
                    # From the process start, as EC2's grace runs from the instance's launch:
                    # time spent queued for a max_parallel slot is the harness's, not the boot's.
                    p.terminate()
                    self._fail(a, now, "hung", "HealthCheckGraceExceeded")

    def _ready(self, a: Attempt, when: float) -> None:
        a.outcome, a.ready_at, a.end = "ready", when, when
        self.finished += 1
        if self.spec.idempotency_check and not a.proc.running:
            self._start_second(a)  # now, so the run cannot end before it

    def _fail(self, a: Attempt, when: float, outcome: str, error_class: str) -> None:
        a.outcome, a.end, a.error_class = outcome, when, error_class
        a.verdict_pending = False
        a.proc.terminate()  # whatever the script left running in its group goes too
        rep = self.scenario.fleet.replacement
        if rep.enabled and a.attempt < rep.max_attempts:
            delay = self.plan.backoff(self.scenario, a.attempt, self.rng)
            self._push(when + delay, a.instance, a.attempt + 1, a.first_launch)
        else:
            self.finished += 1

    def _start_second(self, a: Attempt) -> None:
        a.snapshot = file_snapshot(a.root)
        a.second = self._spawn(a.env, a.root, self.tmp / "logs" / f"{a.instance}-{a.attempt}-second",
                               self.isolator.prefix(a.instance_id))
        a.second_window = (a.second.started - self.t0, math.inf)
        self.seconds.add(a)

    def _second_done(self, a: Attempt) -> None:
        self.seconds.discard(a)
        self.isolator.release(a.instance_id)
        p = a.second
        a.second_window = (a.second_window[0], p.exited - self.t0)
        code = None if not math.isnan(p.term_sent) else (p.exit_code if p.signal is None else -p.signal)
        after = file_snapshot(a.root)
        changed = sorted({path for path, sig in after.items() if a.snapshot.get(path) != sig}
                         | {path for path in a.snapshot if path not in after})  # removed ones too
        a.second_result = SecondRun(exit_code=code, changed_files=changed)

    def _stop_processes(self, end: float) -> None:
        """Kill every process group still there; attempts still booting become unfinished."""
        for a in self.running:
            if a.outcome is None:
                a.outcome, a.end, a.verdict_pending = "unfinished", end, False
        procs = [p for a in self.attempts for p in (a.proc, a.second) if p is not None]
        stop_all(procs, self.spec.kill_grace)
        for a in list(self.seconds):
            self._second_done(a)
        self.running.clear()
