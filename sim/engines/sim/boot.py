"""One boot attempt as a state machine: steps of the DAG, calls with retries, credentials.

Callbacks, not generator processes: a million instances each run a handful of steps, and a
scheduled callback is the cheapest kind of event. The order in which things happen is fixed by
the clock's event queue (time, then insertion order, as in SimPy), so a seed fixes the run.
"""

from __future__ import annotations

import math

from sim.engines.sim.compiled import NEEDS_CREDS, NEEDS_TOKEN
from sim.engines.sim.dependency import OK
from sim.policies import GiveUp, classify
from sim.policies.classify import ErrorClass

__all__ = ["Boot", "CallRun"]

_STEP, _TOKEN, _CREDS = 0, 1, 2
_FINISHED = -1  # in Boot.pending: the step is done
# A compare-and-set conflict: the application re-reads and tries again; retryable for it.
_CONFLICT = ErrorClass("transient", True, True)
_CLASSES: dict[str, ErrorClass] = {
    "Timeout": classify(timeout=True),
    "ConnectionReset": classify(connection=True),
    "ServiceUnavailable": classify("ServiceUnavailable", 503),
    "InternalError": classify("InternalError", 500),
    "TooManyRequestsException": classify("TooManyRequestsException", 429),
    "Unauthorized": classify("Unauthorized", 401),
    "AccessDenied": classify("AccessDenied", 403),
    "ConditionalCheckFailed": _CONFLICT,
}


def error_class(code: str) -> ErrorClass:
    cls = _CLASSES.get(code)
    if cls is None:
        cls = _CLASSES[code] = classify(code, 400)
    return cls


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
        self.pending = [len(s.after) for s in model.steps]
        self.unfinished = len(model.steps)
        self.step_retries = [0] * len(model.steps)
        for i in model.roots:
            self.start_step(i)

    # -- credentials --------------------------------------------------------------------
    def token_ok(self, now):
        return now < self.token_exp and self.token_at >= self.engine.token_revoked_before

    def creds_remaining(self, now):
        if self.creds_at < self.engine.creds_revoked_before:
            return -math.inf
        return self.creds_exp - now

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
        else:
            CallRun(self, step, _STEP, i, None).start()

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


class CallRun:
    """One logical call (first attempt and retries): a step's call or a credential refresh."""

    __slots__ = ("boot", "step", "kind", "owner", "then", "call", "last_code", "skip_refresh",
                 "tolerant")

    def __init__(self, boot, step, kind, owner, then, tolerant=False):
        self.boot = boot
        self.step = step
        self.kind = kind
        self.owner = owner  # the step whose retries these are
        self.then = then  # the CallRun waiting for this refresh
        self.call = None
        self.last_code = None
        self.skip_refresh = False
        self.tolerant = tolerant  # an advisory refresh: failing it is not fatal

    def start(self):
        boot = self.boot
        self.call = self.step.policy.begin(boot.client_for(self.step), boot.engine.clock._now)
        self.attempt()

    def attempt(self, _value=None):
        boot = self.boot
        if boot.done:
            return
        engine = boot.engine
        model = engine.model
        now = engine.clock._now
        needs = self.step.needs
        if not self.skip_refresh and model.refresh:
            if needs == NEEDS_TOKEN and self.kind != _TOKEN and model.token_step is not None:
                if not boot.token_ok(now):
                    CallRun(boot, model.token_step, _TOKEN, self.owner, self).start()
                    return
            elif needs == NEEDS_CREDS and model.creds_step is not None:
                remaining = boot.creds_remaining(now)
                if remaining <= model.advisory:
                    tolerant = remaining > model.mandatory
                    CallRun(boot, model.creds_step, _CREDS, self.owner, self, tolerant).start()
                    return
        self.skip_refresh = False
        wait = self.call.before_attempt(now)
        if wait.__class__ is GiveUp:
            self.finish(False, now)
        elif wait > 0.0:
            engine.later(wait, self.send)
        else:
            self.send()

    def send(self, _value=None):
        boot = self.boot
        if boot.done:
            return
        engine = boot.engine
        now = engine.clock._now
        step = self.step
        needs = step.needs
        auth_error = None
        if needs == NEEDS_TOKEN and not boot.token_ok(now):
            auth_error = "Unauthorized"
        elif needs == NEEDS_CREDS and boot.creds_remaining(now) <= 0.0:
            auth_error = "ExpiredTokenException"
        boot.calls += 1
        call = self.call
        timeout = step.timeout
        if call.deadline_at is not None:
            timeout = min(timeout, call.deadline_at - now)
        engine.dep_of[step.index].call(step.op, boot, self.on_response, timeout,
                                       call.attempts == 1, auth_error)

    def on_response(self, req, code):
        boot = self.boot
        if boot.done:
            return
        engine = boot.engine
        now = engine.clock._now
        call = self.call
        if code is OK:
            call.on_success(now)
            self.finish(True, now)
            return
        self.last_code = code
        delay = call.on_failure(now, error_class(code), engine.rng)
        if delay.__class__ is GiveUp:
            self.finish(False, now)
        else:
            engine.later(delay, self.attempt)

    def finish(self, ok, now):
        boot = self.boot
        retries = self.call.retries
        boot.retries += retries
        boot.step_retries[self.owner] += retries
        model = boot.engine.model
        if ok:
            code = None
            provides = self.step.provides
            if provides is None:
                pass
            elif provides == "imds_token":
                boot.token_at = now
                boot.token_exp = now + model.token_ttl
            elif provides == "credentials":
                boot.creds_at = now
                boot.creds_exp = now + model.creds_lifetime
        else:
            code = self.last_code or f"GaveUp:{self.call.outcome}"
        if self.kind == _STEP:
            if ok:
                boot.step_ok(self.owner, now)
            else:
                boot.step_failed(self.owner, code, now)
            return
        then = self.then
        if ok or self.tolerant:
            then.skip_refresh = True
            then.attempt()
        else:
            then.last_code = code
            then.finish(False, now)
