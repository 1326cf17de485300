"""Backoff schedules: how long to wait before retry number ``n`` (0-based).

The jitter formulas are those of the AWS Architecture Blog post "Exponential Backoff And
Jitter"; ``GrpcBackoff`` follows gRPC's connection-backoff document. Every schedule has the same
shape, ``delay(n, previous, rng) -> seconds``, where ``previous`` is the delay used before the
previous retry (0.0 before the first; only decorrelated jitter reads it) and ``rng`` is a
``random.Random`` owned by the caller. ``max_delay`` bounds every value ``delay`` returns.
"""

from __future__ import annotations

import math
import random

__all__ = [
    "Backoff",
    "NoBackoff",
    "FixedBackoff",
    "ExponentialBackoff",
    "FullJitterBackoff",
    "EqualJitterBackoff",
    "DecorrelatedJitterBackoff",
    "GrpcBackoff",
]


class Backoff:
    """Base of every schedule. ``from_attempt_start`` means the delay is counted from the start
    of the failed attempt rather than from the failure (gRPC's 'sleep until deadline')."""

    __slots__ = ("max_delay",)
    from_attempt_start = False

    def __init__(self, max_delay: float):
        self.max_delay = max_delay

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        raise NotImplementedError


def _check(name: str, value: float, minimum: float = 0.0) -> float:
    value = float(value)
    if not value >= minimum:  # also rejects NaN
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


class _Exponential(Backoff):
    """``min(cap, base * multiplier**n)`` without overflowing for large ``n``."""

    __slots__ = ("base", "multiplier", "cap", "_saturated_at")

    def __init__(self, base: float, multiplier: float, cap: float):
        self.base = _check("base", base)
        self.multiplier = _check("multiplier", multiplier, 1.0)
        self.cap = _check("cap", cap)
        super().__init__(self.cap)
        # Past this n the cap always wins; saves the pow and avoids OverflowError.
        if self.base == 0.0 or self.cap <= self.base:
            self._saturated_at = 0
        elif self.multiplier == 1.0 or math.isinf(self.cap):
            # Uncapped: stop growing near 1e300 (then the result is the cap, infinity).
            self._saturated_at = (
                1 << 62 if self.multiplier == 1.0 else int(300 / math.log10(self.multiplier))
            )
        else:
            # In logs, so a tiny base cannot overflow cap / base; the second bound keeps
            # multiplier**n finite (it binds only for bases 1e-300 below the cap).
            steps = (math.log(self.cap) - math.log(self.base)) / math.log(self.multiplier)
            self._saturated_at = min(math.ceil(steps), int(300 / math.log10(self.multiplier)))

    def _ceiling(self, n: int) -> float:
        if n >= self._saturated_at:
            return self.cap if self.base > 0.0 else 0.0
        t = self.base * self.multiplier**n
        return t if t < self.cap else self.cap


class NoBackoff(Backoff):
    """Retry at once."""

    __slots__ = ()

    def __init__(self):
        super().__init__(0.0)

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        return 0.0


class FixedBackoff(Backoff):
    """The same delay before every retry."""

    __slots__ = ("fixed",)

    def __init__(self, delay: float):
        self.fixed = _check("delay", delay)
        super().__init__(self.fixed)

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        return self.fixed


class ExponentialBackoff(_Exponential):
    """``min(cap, base * multiplier**n)``, no jitter: synchronised clients retry in lockstep."""

    __slots__ = ()

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        return self._ceiling(n)


class FullJitterBackoff(_Exponential):
    """``uniform(0, min(cap, base * multiplier**n))``. With base 1s, multiplier 2 and cap 20s this
    is botocore standard mode; with no cap, botocore legacy mode."""

    __slots__ = ()

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        return rng.random() * self._ceiling(n)


class EqualJitterBackoff(_Exponential):
    """``t/2 + uniform(0, t/2)`` with ``t = min(cap, base * multiplier**n)``."""

    __slots__ = ()

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        half = self._ceiling(n) / 2.0
        return half + rng.random() * half


class DecorrelatedJitterBackoff(Backoff):
    """``min(cap, uniform(base, previous * 3))``, starting from ``previous = base``."""

    __slots__ = ("base", "cap", "growth")

    def __init__(self, base: float, cap: float, growth: float = 3.0):
        self.base = _check("base", base)
        self.cap = _check("cap", cap)
        self.growth = _check("growth", growth, 1.0)
        super().__init__(self.cap)

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        low = self.base
        high = (previous if previous > low else low) * self.growth
        t = low + rng.random() * (high - low)
        return t if t < self.cap else self.cap


class GrpcBackoff(Backoff):
    """gRPC connection backoff: attempt ``n+1`` starts ``b_n`` after attempt ``n`` started, where
    ``b_0 = initial`` and ``b_n = min(initial * multiplier**n, max_backoff) * (1 ± jitter)``.

    ``delay`` returns ``b_n``; the controller counts it from the start of the failed attempt,
    so a connect attempt that itself took longer than ``b_n`` is followed at once.
    Defaults: 1s, x1.6, ±20%, 120s (gRPC's connection-backoff document).
    """

    __slots__ = ("initial", "multiplier", "jitter", "max_backoff", "_ceiling")
    from_attempt_start = True

    def __init__(
        self,
        initial: float = 1.0,
        multiplier: float = 1.6,
        jitter: float = 0.2,
        max_backoff: float = 120.0,
    ):
        self.initial = _check("initial", initial)
        self.multiplier = _check("multiplier", multiplier, 1.0)
        self.jitter = _check("jitter", jitter)
        if self.jitter > 1.0:
            raise ValueError(f"jitter must be <= 1, got {jitter!r}")
        self.max_backoff = _check("max_backoff", max_backoff)
        self._ceiling = _Exponential(self.initial, self.multiplier, self.max_backoff)._ceiling
        super().__init__(max(self.initial, self.max_backoff * (1.0 + self.jitter)))

    def delay(self, n: int, previous: float, rng: random.Random) -> float:
        if n == 0:
            # The spec's first deadline is now + INITIAL_BACKOFF, with no jitter.
            return self.initial
        return self._ceiling(n) * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))
