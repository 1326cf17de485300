"""The exec engine's verdicts: what an exit, a registration or a deadline means for an attempt.

`Verdicts` is a mixin of `ExecEngine` (`sim.engines.exec.engine`): ready or failed (and the
replacement that follows a failure), hung at the boot timeout or the health-check grace, the
idempotency check's second run, and the unfinished attempts when the run stops. The outcome is
decided from outside the script: its exit status, the registry sink, the clock.
"""

from __future__ import annotations

import math
import signal
import time

from sim.engines.exec.assemble import Attempt
from sim.engines.exec.findings import SecondRun
from sim.engines.exec.process import file_snapshot, stop_all

__all__ = ["Verdicts"]


class Verdicts:
    """Outcomes of attempts and their second runs; mixed into `ExecEngine`."""

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
