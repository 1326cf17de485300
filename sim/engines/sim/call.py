"""One logical call of a boot (first attempt and retries): a step's call or a credential
refresh, driven by the step's retry policy through the controller protocol
(``sim.policies.controller``).

Most calls succeed at once. For a stateless policy (no per-client state, no deadline),
``policy.begin`` and the first ``before_attempt`` read nothing but the new ``Call`` and never
refuse, so the ``Call`` is made only when an attempt fails, with the times it would have had:
the same decisions, and no policy object for the calls that never retry.
"""

from __future__ import annotations

import math

from sim.engines.sim.compiled import NEEDS_CREDS, NEEDS_TOKEN
from sim.engines.sim.dependency import OK
from sim.policies import GiveUp, classify
from sim.policies.classify import ErrorClass

__all__ = ["CallRun", "STEP", "error_class"]

STEP, TOKEN, CREDS = 0, 1, 2  # what a CallRun is for
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


class CallRun:
    """One logical call (first attempt and retries): a step's call or a credential refresh."""

    __slots__ = ("boot", "step", "kind", "owner", "then", "call", "last_code", "skip_refresh",
                 "tolerant", "begun_at", "sent_at")

    def __init__(self, boot, step, kind, owner, then, tolerant=False):
        self.boot = boot
        self.step = step
        self.kind = kind
        self.owner = owner  # the step whose retries these are
        self.then = then  # the CallRun waiting for this refresh
        self.call = None  # the policy's Call; None until needed for a stateless policy
        self.last_code = None
        self.skip_refresh = False
        self.tolerant = tolerant  # an advisory refresh: failing it is not fatal

    def start(self):
        boot = self.boot
        step = self.step
        now = boot.engine.clock._now
        if step.lazy_call:
            self.begun_at = now
        else:
            self.call = step.policy.begin(boot.client_for(step), now)
        self.attempt()

    def _make_call(self):
        """The Call a stateless policy would have had since ``start``, one attempt made."""
        step = self.step
        call = self.call = step.policy.begin(self.boot.client_for(step), self.begun_at)
        call.before_attempt(self.sent_at)
        return call

    def attempt(self, _value=None):
        boot = self.boot
        if boot.done:
            return
        engine = boot.engine
        model = engine.model
        now = engine.clock._now
        needs = self.step.needs
        if not self.skip_refresh and model.refresh:
            if needs == NEEDS_TOKEN and self.kind != TOKEN and model.token_step is not None:
                # The token has expired, or was minted before a revocation: fetch a new one.
                if now >= boot.token_exp or boot.token_at < engine.token_revoked_before:
                    CallRun(boot, model.token_step, TOKEN, self.owner, self).start()
                    return
            elif needs == NEEDS_CREDS and model.creds_step is not None:
                # Seconds of credential life left; -inf if minted before a revocation.
                if boot.creds_at < engine.creds_revoked_before:
                    remaining = -math.inf
                else:
                    remaining = boot.creds_exp - now
                if remaining <= model.advisory:
                    tolerant = remaining > model.mandatory
                    CallRun(boot, model.creds_step, CREDS, self.owner, self, tolerant).start()
                    return
        self.skip_refresh = False
        call = self.call
        if call is None:  # the first attempt of a stateless policy: no wait, no refusal
            self.sent_at = now
            self.send()
            return
        wait = call.before_attempt(now)
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
        if needs == NEEDS_CREDS:
            # Credentials expired, or minted before a revocation: the service refuses them.
            if boot.creds_at < engine.creds_revoked_before or boot.creds_exp - now <= 0.0:
                auth_error = "ExpiredTokenException"
        elif needs == NEEDS_TOKEN and (now >= boot.token_exp
                                       or boot.token_at < engine.token_revoked_before):
            auth_error = "Unauthorized"  # an expired or revoked IMDS token
        boot.calls += 1
        call = self.call
        timeout = step.timeout
        if call is None:
            first = True
        else:
            first = call.attempts == 1
            if call.deadline_at is not None:
                timeout = min(timeout, call.deadline_at - now)
        engine.dep_of[step.index].call(step.op, boot, self.on_response, timeout, first,
                                       auth_error)

    def on_response(self, req, code):
        boot = self.boot
        if boot.done:
            return
        engine = boot.engine
        now = engine.clock._now
        call = self.call
        if code is OK:
            if call is None and self.kind == STEP and self.step.provides is None:
                boot.step_ok(self.owner, now)  # finish(True, now) with nothing to record
                return
            if call is not None:
                call.on_success(now)
            self.finish(True, now)
            return
        if call is None:
            call = self._make_call()
        self.last_code = code
        delay = call.on_failure(now, error_class(code), engine.rng)
        if delay.__class__ is GiveUp:
            self.finish(False, now)
        else:
            engine.later(delay, self.attempt)

    def finish(self, ok, now):
        boot = self.boot
        call = self.call
        if call is not None:
            retries = call.retries
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
            code = self.last_code or f"GaveUp:{call.outcome}"
        if self.kind == STEP:
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
