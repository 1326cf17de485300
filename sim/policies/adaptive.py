"""AWS SDK adaptive mode's client-side rate limiter, as botocore builds it.

Three parts, kept in one object because the limiter is per client and called on every attempt:
- a token bucket (``retries/bucket.py``): sending needs one token; tokens refill at the send
  rate, at least 0.5/s, holding at most max(1, rate) tokens;
- a rate clocker (``retries/adaptive.py``): the measured response rate, sampled in half-second
  buckets and smoothed (0.8 on the new sample);
- a CUBIC calculator (``retries/throttling.py``): on a throttle the rate drops to 0.7x the rate
  in use then; on any other response it grows back along ``0.4 * (t - K)^3 + W_max``.
The new rate is never set above twice the measured rate. The limiter stays off (no waiting)
until the first throttling response, as in botocore.

Where botocore blocks in ``acquire``, ``acquire(now)`` returns how long to wait and reserves the
token at once (the bucket may go negative), so concurrent callers queue in order. A rate change
during the wait does not shorten or lengthen a reservation already handed out.
"""

from __future__ import annotations

import math

__all__ = ["AdaptiveRateLimiter"]

_MIN_RATE = 0.5
_BETA = 0.7
_SCALE = 0.4
_SMOOTHING = 0.8
_BUCKET_SCALE = 2.0  # 1 / 0.5 s time buckets
_MAX_RATE_ADJUST = 2.0


class AdaptiveRateLimiter:
    __slots__ = (
        "enabled",
        "started",
        "fill_rate",
        "max_capacity",
        "capacity",
        "_last_refill",
        "measured_rate",
        "_count",
        "_last_bucket",
        "_w_max",
        "_k",
        "_last_fail",
    )

    def __init__(self):
        self.enabled = False
        self.started = False
        self.fill_rate = 1.0
        self.max_capacity = 1.0
        self.capacity = 0.0
        self._last_refill = 0.0
        self.measured_rate = 0.0
        self._count = 0
        self._last_bucket = 0.0
        self._w_max = 0.0
        self._k = 0.0
        self._last_fail = 0.0

    def _start(self, now: float) -> None:
        # botocore starts all three clocks when the client is created; we start them at the
        # client's first attempt, which is the same moment for a client made just before use.
        self.started = True
        self._last_refill = now
        self._last_bucket = float(math.floor(now))
        self._last_fail = now

    def _refill(self, now: float) -> None:
        elapsed = now - self._last_refill
        if elapsed > 0.0:
            capacity = self.capacity + elapsed * self.fill_rate
            self.capacity = capacity if capacity < self.max_capacity else self.max_capacity
            self._last_refill = now

    def wait_time(self, now: float) -> float:
        """Seconds until a token is free, without taking it (0.0 while the limiter is off)."""
        if not self.started:
            self._start(now)
        if not self.enabled:
            return 0.0
        self._refill(now)
        if self.capacity >= 1.0:
            return 0.0
        return (1.0 - self.capacity) / self.fill_rate

    def acquire(self, now: float) -> float:
        """Reserve the token for one attempt; returns the seconds to wait before sending it."""
        wait = self.wait_time(now)
        if self.enabled:
            self.capacity -= 1.0
        return wait

    def on_response(self, now: float, throttled: bool) -> None:
        """Every attempt's answer, throttled or not (botocore's ``needs-retry`` hook)."""
        if not self.started:
            self._start(now)
        measured = self._record(now)
        if throttled:
            rate = measured if not self.enabled else min(measured, self.fill_rate)
            self._w_max = rate
            self._k = (rate * (1.0 - _BETA) / _SCALE) ** (1.0 / 3.0)
            self._last_fail = now
            new_rate = rate * _BETA
            self.enabled = True
        else:
            new_rate = _SCALE * (now - self._last_fail - self._k) ** 3 + self._w_max
        limit = _MAX_RATE_ADJUST * measured
        self._set_rate(new_rate if new_rate < limit else limit, now)

    def _record(self, now: float) -> float:
        bucket = math.floor(now * _BUCKET_SCALE) / _BUCKET_SCALE
        self._count += 1
        if bucket > self._last_bucket:
            current = self._count / (bucket - self._last_bucket)
            self.measured_rate = current * _SMOOTHING + self.measured_rate * (1.0 - _SMOOTHING)
            self._count = 0
            self._last_bucket = bucket
        return self.measured_rate

    def _set_rate(self, value: float, now: float) -> None:
        # Tokens earned so far accrue at the old rate before the new one applies.
        self._refill(now)
        self.fill_rate = value if value > _MIN_RATE else _MIN_RATE
        self.max_capacity = value if value >= 1.0 else 1.0
        if self.capacity > self.max_capacity:
            self.capacity = self.max_capacity

    @property
    def send_rate(self) -> float:
        """The rate the bucket currently refills at, in requests per second."""
        return self.fill_rate
