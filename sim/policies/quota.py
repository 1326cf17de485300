"""Client-side retry allowances: the AWS SDK retry quota and an SRE-style retry budget.

Both are per client (one per instance per dependency) and both answer "may this client retry
now?" without sleeping. Checking and spending are separate so a caller can consult several
allowances and spend from all only when every one says yes.
"""

from __future__ import annotations

__all__ = ["RetryQuota", "RetryBudget"]

# Token counts are sums of fractions like 0.1; compare with a little slack so ten deposits of
# 0.1 buy one retry.
_EPS = 1e-9


class RetryQuota:
    """AWS SDK standard-mode retry quota (botocore ``retries/quota.py``).

    Starts full at ``capacity`` (500; botocore's ``INITIAL_CAPACITY``), or at ``initial`` for a
    what-if (a client created in the middle of an outage whose quota another process drained;
    the SDKs themselves always start full). A retry takes ``retry_cost`` (5), ``timeout_cost`` (10)
    after a timeout, ``throttle_cost`` (5) after a throttle; when not enough is left the SDK
    stops retrying (botocore's opt-in 2026 mode charges 14 for anything but a throttle). A call
    that succeeds on its first attempt puts back ``success_refund`` (1); one that succeeds after
    retries puts back what its last retry took. The quota never goes above ``capacity``.
    """

    __slots__ = (
        "capacity",
        "available",
        "retry_cost",
        "timeout_cost",
        "success_refund",
        "throttle_cost",
    )

    def __init__(
        self,
        capacity: int = 500,
        retry_cost: int = 5,
        timeout_cost: int = 10,
        success_refund: int = 1,
        throttle_cost: int = 5,
        initial: int | None = None,
    ):
        if initial is not None and not 0 <= initial <= capacity:
            raise ValueError(f"initial must be in [0, capacity={capacity!r}], got {initial!r}")
        self.capacity = capacity
        self.available = capacity if initial is None else initial
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost
        self.success_refund = success_refund
        self.throttle_cost = throttle_cost

    def cost(self, throttle: bool, timeout: bool) -> int:
        """What a retry after this kind of error takes."""
        if throttle:
            return self.throttle_cost
        return self.timeout_cost if timeout else self.retry_cost

    def can_acquire(self, amount: int) -> bool:
        return amount <= self.available

    def acquire(self, amount: int) -> bool:
        if amount > self.available:
            return False
        self.available -= amount
        return True

    def release(self, amount: int) -> None:
        available = self.available + amount
        self.available = available if available < self.capacity else self.capacity


class RetryBudget:
    """Retries limited to a share of requests (Google SRE book, "Handling Overload").

    Every logical request deposits ``ratio`` tokens (0.1 keeps retries under 10% of requests),
    up to ``max_tokens``; a retry costs one token. Because one instance makes few requests, a
    separate allowance of ``min_per_second`` retries per second (bursting up to one second's
    worth, at least one retry) lets a quiet client retry at all; it starts full.

    The tokens start at ``initial_tokens`` (0 by default: a new client has earned nothing, the
    SRE book's per-client budget; Finagle's ``RetryBudget`` likewise starts with only its
    ``minRetriesPerSec`` reserve). ``initial_tokens = max_tokens`` starts full, like gRPC's
    retry throttling and the AWS SDKs' retry quota.
    """

    __slots__ = (
        "ratio",
        "min_per_second",
        "max_tokens",
        "tokens",
        "allowance",
        "_allowance_cap",
        "_last",
    )

    def __init__(self, ratio: float = 0.1, min_per_second: float = 1.0, max_tokens: float = 10.0,
                 initial_tokens: float = 0.0):
        if not 0 <= initial_tokens <= max_tokens:
            raise ValueError(
                f"initial_tokens must be in [0, max_tokens={max_tokens!r}], got {initial_tokens!r}"
            )
        if ratio < 0 or min_per_second < 0 or max_tokens < 0:
            raise ValueError(
                "ratio, min_per_second and max_tokens must be >= 0, got "
                f"{ratio!r}, {min_per_second!r}, {max_tokens!r}"
            )
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.max_tokens = max_tokens
        self.tokens = float(initial_tokens)
        self._allowance_cap = max(1.0, min_per_second) if min_per_second > 0 else 0.0
        self.allowance = self._allowance_cap
        self._last: float | None = None

    def deposit(self) -> None:
        tokens = self.tokens + self.ratio
        self.tokens = tokens if tokens < self.max_tokens else self.max_tokens

    def _refill(self, now: float) -> None:
        last = self._last
        self._last = now
        if last is not None and now > last and self.allowance < self._allowance_cap:
            allowance = self.allowance + (now - last) * self.min_per_second
            self.allowance = allowance if allowance < self._allowance_cap else self._allowance_cap

    def can_spend(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= 1.0 - _EPS or self.allowance >= 1.0 - _EPS

    def spend(self, now: float) -> bool:
        """Take one retry's worth; False (and nothing taken) when the budget is spent."""
        self._refill(now)
        if self.tokens >= 1.0 - _EPS:
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        if self.allowance >= 1.0 - _EPS:
            self.allowance = max(0.0, self.allowance - 1.0)
            return True
        return False
