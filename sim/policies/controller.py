"""The retry controller an engine drives: one immutable policy, per-client state, per-call state.

    policy = RetryPolicy.from_spec(spec)       # shared by every instance
    client = policy.new_client()               # one per instance per dependency
    call = policy.begin(client, now)           # one logical call: first attempt + retries
    while True:
        wait = call.before_attempt(now)        # float seconds, or a GiveUp (breaker, deadline)
        if wait.__class__ is GiveUp: break     # (or isinstance(wait, GiveUp))
        ... wait, then make the attempt ...
        if ok: call.on_success(now); break
        delay = call.on_failure(now, classify(code, status), rng)
        if delay.__class__ is GiveUp: break    # delay.reason says why
        ... wait delay ...

Give-ups are shared singletons (``GIVE_UP[reason]``), never raised: a failed call is data.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from sim.policies.adaptive import AdaptiveRateLimiter
from sim.policies.backoff import Backoff
from sim.policies.breaker import CLOSED, CircuitBreaker
from sim.policies.classify import ErrorClass
from sim.policies.quota import RetryBudget, RetryQuota
from sim.policies.throttle import RetryThrottle

__all__ = ["RetryPolicy", "ClientState", "Call", "GiveUp", "GIVE_UP", "GIVE_UP_REASONS"]

GIVE_UP_REASONS = (
    "max_attempts",
    "retry_quota_exhausted",
    "budget_exhausted",
    "circuit_open",
    "deadline",
    "not_retryable",
    "retry_throttled",
)


class GiveUp:
    """Why a call stopped retrying (or was refused). One shared instance per reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"GiveUp({self.reason!r})"


GIVE_UP: Mapping[str, GiveUp] = {reason: GiveUp(reason) for reason in GIVE_UP_REASONS}
_MAX_ATTEMPTS = GIVE_UP["max_attempts"]
_QUOTA = GIVE_UP["retry_quota_exhausted"]
_BUDGET = GIVE_UP["budget_exhausted"]
_CIRCUIT = GIVE_UP["circuit_open"]
_DEADLINE = GIVE_UP["deadline"]
_NOT_RETRYABLE = GIVE_UP["not_retryable"]
_THROTTLED = GIVE_UP["retry_throttled"]


class RetryPolicy:
    """Immutable retry settings; builds per-client state and per-call controllers.

    ``max_attempts`` counts the first attempt (None: no limit). ``throttle_backoff`` replaces
    ``backoff`` after a throttling error (default: the same). ``quota`` is
    ``(capacity, retry_cost, timeout_cost, success_refund, throttle_cost[, initial])`` for an
    AWS retry quota, ``budget`` ``(ratio, min_per_second, max_tokens[, initial_tokens])``,
    ``throttle`` ``(max_tokens, token_ratio[, initial])`` for gRPC retry throttling,
    ``breaker`` the keyword arguments of ``CircuitBreaker``; None turns each off.
    ``legacy_classification`` uses botocore legacy mode's idea of a retryable error.
    ``min_attempt_timeout`` is a floor engines should put under each attempt's timeout (gRPC's
    MIN_CONNECT_TIMEOUT; 0 for the others).
    """

    __slots__ = (
        "kind",
        "backoff",
        "throttle_backoff",
        "max_attempts",
        "legacy_classification",
        "quota",
        "adaptive",
        "budget",
        "throttle",
        "breaker",
        "deadline",
        "min_attempt_timeout",
        "_retry_limit",
    )

    def __init__(
        self,
        *,
        kind: str,
        backoff: Backoff,
        max_attempts: int | None,
        legacy_classification: bool = False,
        throttle_backoff: Backoff | None = None,
        quota: tuple | None = None,
        adaptive: bool = False,
        budget: tuple | None = None,
        throttle: tuple | None = None,
        breaker: Mapping[str, Any] | None = None,
        deadline: float | None = None,
        min_attempt_timeout: float = 0.0,
    ):
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, got {max_attempts!r}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"deadline must be > 0 seconds or None, got {deadline!r}")
        self.kind = kind
        self.backoff = backoff
        self.throttle_backoff = throttle_backoff if throttle_backoff is not None else backoff
        self.max_attempts = max_attempts
        self.legacy_classification = legacy_classification
        self.quota = quota
        self.adaptive = adaptive
        self.budget = budget
        self.throttle = throttle
        self.breaker = dict(breaker) if breaker is not None else None
        self.deadline = deadline
        self.min_attempt_timeout = min_attempt_timeout
        self._retry_limit = max_attempts if max_attempts is not None else float("inf")
        if self.breaker is not None:
            CircuitBreaker(**self.breaker)  # fail now, not on the millionth instance

    @classmethod
    def from_spec(cls, spec: Any) -> RetryPolicy:
        """A policy from a ``RetrySpec`` model (or the mapping a scenario file holds)."""
        from sim.policies.build import build_policy  # build imports this module: import late

        return build_policy(spec)

    def new_client(self) -> ClientState:
        return ClientState(self)

    def begin(self, client: ClientState, now: float) -> Call:
        budget = client.budget
        if budget is not None:
            budget.deposit()
        return Call(self, client, now)

    def __repr__(self) -> str:
        return f"RetryPolicy(kind={self.kind!r}, max_attempts={self.max_attempts!r})"


class ClientState:
    """What one client (an instance's SDK client for one dependency) remembers across calls."""

    __slots__ = ("quota", "limiter", "budget", "throttle", "breaker")

    def __init__(self, policy: RetryPolicy):
        q = policy.quota
        self.quota = RetryQuota(*q) if q is not None else None
        self.limiter = AdaptiveRateLimiter() if policy.adaptive else None
        b = policy.budget
        self.budget = RetryBudget(*b) if b is not None else None
        t = policy.throttle
        self.throttle = RetryThrottle(*t) if t is not None else None
        self.breaker = CircuitBreaker(**policy.breaker) if policy.breaker is not None else None


class Call:
    """One logical call. ``attempts`` counts attempts started, ``retries`` retries granted,
    ``outcome`` is None while running, then ``'success'`` or a give-up reason."""

    __slots__ = (
        "policy",
        "client",
        "started_at",
        "deadline_at",
        "attempts",
        "retries",
        "outcome",
        "last_delay",
        "_attempt_started_at",
        "_quota_held",
        "_epoch",
    )

    def __init__(self, policy: RetryPolicy, client: ClientState, now: float):
        self.policy = policy
        self.client = client
        self.started_at = now
        self.deadline_at = now + policy.deadline if policy.deadline is not None else None
        self.attempts = 0
        self.retries = 0
        self.outcome: str | None = None
        self.last_delay = 0.0
        self._attempt_started_at = now
        self._quota_held = 0
        self._epoch = 0

    def remaining(self, now: float) -> float:
        """Seconds left before the deadline (infinity without one): cap attempt timeouts by it."""
        return self.deadline_at - now if self.deadline_at is not None else float("inf")

    def _give_up(self, decision: GiveUp) -> GiveUp:
        self.outcome = decision.reason
        return decision

    def before_attempt(self, now: float) -> float | GiveUp:
        """Seconds to wait before sending the next attempt (adaptive limiter), or a refusal."""
        deadline_at = self.deadline_at
        if deadline_at is not None and now >= deadline_at:
            return self._give_up(_DEADLINE)
        client = self.client
        limiter = client.limiter
        wait = 0.0
        if limiter is not None:
            wait = limiter.wait_time(now)
            if deadline_at is not None and now + wait >= deadline_at:
                return self._give_up(_DEADLINE)
        breaker = client.breaker
        if breaker is not None:
            if self.attempts == 0 and breaker.retries_only:
                # A first attempt always goes out; it informs only a closed breaker, and is
                # never a half-open probe (retries are).
                self._epoch = breaker.epoch if breaker.state == CLOSED else -1
            elif not breaker.allow(now):
                return self._give_up(_CIRCUIT)
            else:
                self._epoch = breaker.epoch
        if limiter is not None:
            limiter.acquire(now)
        self.attempts += 1
        self._attempt_started_at = now + wait
        return wait

    def on_success(self, now: float) -> None:
        client = self.client
        if client.limiter is not None:
            client.limiter.on_response(now, False)
        if client.breaker is not None:
            client.breaker.record(now, False, self._epoch)
        if client.throttle is not None:
            client.throttle.on_success()
        quota = client.quota
        if quota is not None:
            quota.release(self._quota_held if self.retries else quota.success_refund)
        self.outcome = "success"

    def on_failure(self, now: float, error: ErrorClass, rng: random.Random) -> float | GiveUp:
        """Seconds to wait before the next attempt, or a ``GiveUp`` with the reason."""
        client = self.client
        policy = self.policy
        if client.limiter is not None:
            client.limiter.on_response(now, error.throttle)
        retryable = error.legacy_retryable if policy.legacy_classification else error.retryable
        breaker = client.breaker
        if breaker is not None:
            # A 4xx answer shows a healthy service: only retryable failures count against it.
            breaker.record(now, error.retryable, self._epoch)
        throttle = client.throttle
        if throttle is not None and error.retryable:
            throttle.on_failure()  # gRFC A6: only retryable failures count
        if not retryable:
            return self._give_up(_NOT_RETRYABLE)
        if self.attempts >= policy._retry_limit:
            return self._give_up(_MAX_ATTEMPTS)
        if breaker is not None and breaker.is_open(now):
            return self._give_up(_CIRCUIT)
        if throttle is not None and not throttle.retry_allowed():
            return self._give_up(_THROTTLED)
        backoff = policy.throttle_backoff if error.throttle else policy.backoff
        delay = backoff.delay(self.retries, self.last_delay, rng)
        if backoff.from_attempt_start:
            delay = self._attempt_started_at + delay - now
            if delay < 0.0:
                delay = 0.0
        deadline_at = self.deadline_at
        if deadline_at is not None and now + delay >= deadline_at:
            return self._give_up(_DEADLINE)
        budget = client.budget
        if budget is not None and not budget.can_spend(now):
            return self._give_up(_BUDGET)
        quota = client.quota
        if quota is not None:
            cost = quota.cost(error.throttle, error.timeout)
            if not quota.acquire(cost):
                return self._give_up(_QUOTA)
            self._quota_held = cost
        if budget is not None:
            budget.spend(now)
        self.retries += 1
        self.last_delay = delay
        return delay
