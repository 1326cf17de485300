"""One virtual instance's boot attempt: the scenario's bootstrap DAG over real HTTP, in gevent.

Imported only inside Locust worker processes (it uses gevent, which Locust has monkey-patched).
The logic mirrors the sim engine's ``Boot``/``CallRun`` step for step, with the same compiled
model (``sim.engines.sim.compiled``: the same `RetryPolicy` objects, timeouts, marks,
credential rules) and the same `classify` for errors; only the dependency is real:

- a step waits for its ``after`` steps, then works (a seeded sleep) or calls;
- a call is a `Call` of its step's policy: ``before_attempt`` / attempt / ``on_success`` or
  ``on_failure``; each attempt is bounded by the step timeout and the policy's deadline;
- a call that needs an IMDSv2 token or role credentials fetches them first when missing or
  expired (the token step / the credentials step, as a refresh); an ``Unauthorized`` from IMDS
  or an ``ExpiredToken*`` from AWS drops what the instance holds so the next attempt refreshes;
- the health-check grace (from launch) and the bootstrap deadline (from start) end an attempt
  as ``hung`` / ``failed``.

Every attempt sends a raw record (start, latency, dependency, operation, outcome) to the
worker's `Recorder`; every boot attempt ends with one attempt record.
"""

from __future__ import annotations

import math
import time

import gevent
from gevent.event import Event

from sim.engines.load.wire import THROTTLING, build_request, imds_credentials, read_answer
from sim.engines.sim.compiled import NEEDS_CREDS, NEEDS_TOKEN
from sim.policies import GiveUp, classify

__all__ = ["BootAttempt"]

_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})


class _Failed(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class BootAttempt:
    """One boot attempt of one virtual instance (ctx: the worker's `WorkerContext`)."""

    def __init__(self, ctx, instance: int, attempt: int, instance_id: str, launch: float,
                 first_launch: float, rng):
        self.ctx, self.model = ctx, ctx.model
        self.instance, self.attempt, self.instance_id = instance, attempt, instance_id
        self.launch, self.first_launch, self.rng = launch, first_launch, rng
        self.start = math.nan
        self.ready_at = math.nan
        self.marks: dict[str, float] = {}
        self.calls = self.retries = 0
        self.step_retries = [0] * len(self.model.steps)
        self.token = None
        self.token_exp = -math.inf
        self.credentials = None
        self.creds_exp = -math.inf
        self.clients: dict = {}
        self.sessions: dict = {}
        self.done = Event()
        self.outcome = None
        self.greenlets: list = []
        self.lag = 0.0  # how late the worker woke for this launch

    # -- the attempt --------------------------------------------------------------------
    def run(self, boot_delay: float) -> str:
        """Boot (after ``boot_delay`` of OS boot); returns the outcome once recorded."""
        ctx, model = self.ctx, self.model
        limits = []
        if ctx.grace is not None:
            limits.append((self.launch + ctx.grace, "hung", "HealthCheckGraceExceeded"))
        first = min(limits, default=None)
        if boot_delay > 0 and not self._sleep_until(ctx.now() + boot_delay, first):
            return self.outcome
        self.start = ctx.now()
        if model.boot_deadline is not None:
            limits.append((self.start + model.boot_deadline, "failed", "BootstrapDeadlineExceeded"))
        self.pending = [len(s.after) for s in model.steps]
        self.unfinished = len(model.steps)
        for i in model.roots:
            self._spawn(i)
        first = min(limits, default=None)
        timeout = None if first is None else max(0.0, first[0] - ctx.now())
        if not self.done.wait(timeout):
            self.finish(first[1], ctx.now(), first[2], self._running_step())
        return self.outcome

    def _sleep_until(self, t: float, limit) -> bool:
        if limit is not None and limit[0] <= t:
            gevent.sleep(max(0.0, limit[0] - self.ctx.now()))
            self.finish(limit[1], self.ctx.now(), limit[2], "os_boot")
            return False
        gevent.sleep(max(0.0, t - self.ctx.now()))
        return self.outcome is None  # the run may have ended during the OS boot

    def _spawn(self, i: int) -> None:
        self.greenlets.append(gevent.spawn(self._step, i))

    def _running_step(self) -> str:
        for i in self.model.order:
            if self.pending[i] == 0:
                return self.model.steps[i].name
        return ""

    def finish(self, outcome, now, error_class="", failed_step=""):
        """Record the attempt once; ``stop`` (the run's end) calls it with ``unfinished``."""
        if self.outcome is not None:
            return
        if outcome in ("unfinished", "failed") and self.ready_at == self.ready_at:
            outcome = "ready"  # steps after the ready mark do not undo readiness
        self.outcome = outcome
        self.ctx.recorder.attempt(self, outcome, now, error_class, failed_step)
        self.done.set()
        me = gevent.getcurrent()
        others = [g for g in self.greenlets if g is not me and not g.dead]
        if others:
            gevent.killall(others, block=False)
        for session in self.sessions.values():
            _close(session)

    # -- steps --------------------------------------------------------------------------
    def _step(self, i: int) -> None:
        step = self.model.steps[i]
        try:
            if step.op < 0:
                gevent.sleep(step.work(self.rng))
                if step.fail_p and self.rng.random() < step.fail_p:
                    raise _Failed(step.fail_code)
            elif step.cache_hit and self.rng.random() < step.cache_hit:
                gevent.sleep(step.cache_time(self.rng))
            else:
                self._call(step, i)
        except _Failed as exc:
            self._step_failed(i, exc.code)
        else:
            self._step_ok(i)

    def _step_ok(self, i: int) -> None:
        if self.outcome is not None:
            return
        now = self.ctx.now()
        step = self.model.steps[i]
        self.pending[i] = -1
        for m in step.marks:
            self.marks[m] = now
        if step.is_ready:
            self.ready_at = now
        self.unfinished -= 1
        if self.unfinished == 0:
            self.finish("ready", now)
            return
        self._release(step)

    def _release(self, step) -> None:
        for c in step.children:
            self.pending[c] -= 1
            if self.pending[c] == 0:
                self._spawn(c)

    def _step_failed(self, i: int, code: str) -> None:
        if self.outcome is not None:
            return
        step, now = self.model.steps[i], self.ctx.now()
        if step.optional:
            self.pending[i] = -1
            self.unfinished -= 1
            if self.unfinished == 0:
                self.finish("ready" if self.ready_at == self.ready_at else "failed", now)
            else:
                self._release(step)
            return
        self.finish("failed", now, code, step.name)

    # -- calls --------------------------------------------------------------------------
    def _client(self, step):
        key = (self.model.ops[step.op].dep, step.policy)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = step.policy.new_client()
        return client

    def _call(self, step, owner: int) -> None:
        """A logical call with its retries; raises `_Failed` when the policy gives up."""
        ctx, model = self.ctx, self.model
        call = step.policy.begin(self._client(step), ctx.now())
        last = None
        made = 0
        try:
            while True:
                if step is not model.token_step:  # a credentials refresh may need a new token first
                    self._credentials_for(step, owner)
                wait = call.before_attempt(ctx.now())
                if wait.__class__ is GiveUp:
                    raise _Failed(last or f"GaveUp:{wait.reason}")
                if wait > 0.0:
                    gevent.sleep(wait)
                timeout = step.timeout
                if call.deadline_at is not None:
                    timeout = min(timeout, call.deadline_at - ctx.now())
                made += 1
                code, status, kind = self._attempt(step, timeout, made == 1)
                now = ctx.now()
                if code is None:
                    call.on_success(now)
                    self._provided(step, now)
                    return
                last = code
                if code in _EXPIRED:
                    self.creds_exp = -math.inf
                elif code == "Unauthorized" and model.ops[step.op].key.startswith("imds."):
                    self.token_exp = -math.inf
                error = classify(code, status, timeout=kind == "timed_out",
                                 connection=kind == "connection")
                delay = call.on_failure(now, error, self.rng)
                if delay.__class__ is GiveUp:
                    raise _Failed(code)
                gevent.sleep(delay)
        finally:
            self.retries += call.retries
            self.step_retries[owner] += call.retries

    def _credentials_for(self, step, owner: int) -> None:
        model, now = self.model, self.ctx.now()
        if not model.refresh:
            return
        if step.needs == NEEDS_TOKEN and model.token_step is not None and now >= self.token_exp:
            self._call(model.token_step, owner)
        elif step.needs == NEEDS_CREDS and model.creds_step is not None:
            remaining = self.creds_exp - now
            if remaining <= model.advisory:
                try:
                    self._call(model.creds_step, owner)
                except _Failed:
                    if remaining <= model.mandatory:
                        raise
                    # advisory refresh failed: carry on with what the instance holds

    def _provided(self, step, now: float) -> None:
        if step.provides == "imds_token":
            self.token_exp = now + self.model.token_ttl
        elif step.provides == "credentials":
            self.creds_exp = now + self.model.creds_lifetime
            expires = getattr(self, "_expires_epoch", None)
            if expires is not None:
                self.creds_exp = min(self.creds_exp, expires - self.ctx.t0)

    def _attempt(self, step, timeout: float, first: bool):
        """One HTTP attempt: (code or None, status, kind); records it."""
        ctx = self.ctx
        op = self.model.ops[step.op]
        dep_name = self.model.dep_names[op.dep]
        self.calls += 1
        req = build_request(dep_name, op.name, ctx.endpoints[dep_name], self, ctx.job)
        session = self.sessions.get(dep_name)
        if session is None:
            session = self.sessions[dep_name] = ctx.new_session()
        t = ctx.now()
        started = time.perf_counter()
        status, code, kind = 0, None, "served"
        try:
            with gevent.Timeout(timeout if timeout != math.inf else None):
                resp = session.request(req.method, req.url, name=op.key, data=req.body,
                                       headers=req.headers)
                body = resp.content or b""
        except gevent.Timeout:
            code, kind = "Timeout", "timed_out"
            _close(self.sessions.pop(dep_name))  # a timed-out connection is closed, like an SDK's
            ctx.locust_event(op.key, time.perf_counter() - started, "Timeout")
        else:
            status = resp.status_code or 0
            if status == 0:  # no HTTP answer: our timeout (geventhttpclient may wrap it), or reset
                error = getattr(resp, "error", None)
                if isinstance(error, (gevent.Timeout, TimeoutError)) or (
                        time.perf_counter() - started >= timeout * 0.999):
                    code, kind = "Timeout", "timed_out"
                else:
                    code, kind = "ConnectionReset", "connection"
                _close(self.sessions.pop(dep_name))
            else:
                answer = read_answer(dep_name, status, resp.headers, body)
                code = answer.code
                if code is None:
                    self._on_ok(op, body)
                elif code in THROTTLING or status == 429:
                    kind = "throttled"
                else:
                    kind = "failed"
        latency = time.perf_counter() - started
        ctx.recorder.call(t, latency, dep_name, op.name, self.instance_id, first, status, code, kind)
        return code, status, kind

    def _on_ok(self, op, body: bytes) -> None:
        if op.key == "imds.PutToken":
            self.token = body.decode()
        elif op.key == "imds.GetCredentials":
            self.credentials, self._expires_epoch = imds_credentials(body)


def _close(session) -> None:
    try:
        session.client.clientpool.close()
    except Exception:  # closing is best effort: the socket goes with the object anyway
        pass
