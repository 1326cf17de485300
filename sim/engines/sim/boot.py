"""One boot attempt as a state machine: steps of the DAG, calls with retries, credentials.

Callbacks, not generator processes: a million instances each run a handful of steps, and a
scheduled callback is the cheapest kind of event. The order in which things happen is fixed by
the clock's event queue (time, then insertion order, as in SimPy), so a seed fixes the run.
"""

from __future__ import annotations

import math

from sim.engines.sim.call import STEP, CallRun

__all__ = ["Boot"]

_FINISHED = -1  # in Boot.pending: the step is done


class Boot:
    """One boot attempt of one instance."""

    __slots__ = ("engine", "instance", "attempt", "launch", "start", "pending", "step_retries",
                 "marks", "calls", "retries", "done", "token_at", "token_exp", "creds_at",
                 "creds_exp", "clients", "limits", "first_launch", "ready_at", "unfinished")

    def __init__(self, engine, instance, attempt, launch, first_launch):
        self.engine = engine
        self.instance = instance
        self.attempt = attempt
        self.launch = launch
        self.first_launch = first_launch
        self.start = math.nan
        self.pending = None  # per step: predecessors not finished yet; -1 once it is done
        self.step_retries = None
        self.marks = None
        self.calls = 0
        self.retries = 0
        self.done = False
        self.token_at = -math.inf
        self.token_exp = -math.inf
        self.creds_at = -math.inf
        self.creds_exp = -math.inf
        self.clients = None
        self.limits = None  # per-instance rate limit buckets, by dependency
        self.ready_at = math.nan  # steps after the ready mark (a late agent) still run
        self.unfinished = 0  # steps not finished yet

    def release(self):
        """Drop per-attempt state once recorded: a pending health-check deadline may still
        hold the Boot for minutes, and a million of them add up."""
        self.pending = self.step_retries = self.marks = self.clients = self.limits = None

    def running_step(self) -> str:
        """The first step that started and has not finished (for hung and deadline records)."""
        if self.pending is None:
            return "os_boot"
        model = self.engine.model
        for i in model.order:
            if self.pending[i] == 0:
                return model.steps[i].name
        return ""

    def begin(self, now):
        model = self.engine.model
        self.start = now
        self.pending = list(model.predecessors)
        self.unfinished = len(model.steps)
        self.step_retries = [0] * len(model.steps)
        for i in model.roots:
            self.start_step(i)

    # -- credentials (their validity is checked in CallRun, once per call) ----------------
    def client_for(self, step):
        shared = self.engine.shared_client_of[step.index]
        if shared is not None:
            return shared
        policy = step.policy
        key = (self.engine.model.ops[step.op].dep, policy)
        if self.clients is None:
            self.clients = {}
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = policy.new_client()
        return client

    # -- steps --------------------------------------------------------------------------
    def start_step(self, i):
        engine = self.engine
        step = engine.model.steps[i]
        rng = engine.rng
        if step.op < 0:
            engine.later(step.work(rng), engine.on_work_done, (self, i))
        elif step.cache_hit and rng.random() < step.cache_hit:
            engine.later(step.cache_time(rng), engine.on_cache_hit, (self, i))
        elif step.lazy_call:  # CallRun.start, inlined for the common case
            run = CallRun(self, step, STEP, i, None)
            run.begun_at = engine.clock._now
            run.attempt()
        else:
            CallRun(self, step, STEP, i, None).start()

    def step_ok(self, i, now):
        model = self.engine.model
        step = model.steps[i]
        self.pending[i] = _FINISHED
        if step.marks:
            if self.marks is None:
                self.marks = {}
            for m in step.marks:
                self.marks[m] = now
        self.unfinished -= 1
        if step.is_ready:
            self.ready_at = now
        if self.unfinished == 0:
            self.engine.finish(self, "ready", now)
            return
        pending = self.pending
        for c in step.children:
            pending[c] -= 1
            if pending[c] == 0:
                self.start_step(c)

    def step_failed(self, i, code, now):
        step = self.engine.model.steps[i]
        if step.optional:
            pending = self.pending
            pending[i] = _FINISHED
            self.unfinished -= 1
            if self.unfinished == 0:
                self.engine.finish(self, "ready" if self.ready_at == self.ready_at else "failed",
                                   now)
                return
            for c in step.children:
                pending[c] -= 1
                if pending[c] == 0:
                    self.start_step(c)
            return
        # After the ready mark a failure does not undo readiness; it is still recorded.
        outcome = "ready" if self.ready_at == self.ready_at else "failed"
        self.engine.finish(self, outcome, now, code, step.name)
