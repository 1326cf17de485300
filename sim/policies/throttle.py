"""gRPC retry throttling (gRFC A6, "Throttling Retry Attempts and Hedged RPCs").

One ``token_count`` per client (gRPC keeps one per server name), between 0 and ``max_tokens``,
starting at ``max_tokens`` (``initial`` changes that, for what-ifs). Every attempt that fails
with a retryable status takes one token; every attempt that succeeds puts back
``token_ratio``. Retries are allowed only while ``token_count > max_tokens / 2``; a first
attempt is always sent. With the A6 example (10 tokens, ratio 0.1) a client that starts full
may retry after 5 failures in a row at most before it needs 10 successes per failure to stay
above the threshold: retries stop when failures pass about ``token_ratio / (1 + token_ratio)``
of attempts (9% at 0.1).
"""

from __future__ import annotations

__all__ = ["RetryThrottle"]


class RetryThrottle:
    __slots__ = ("max_tokens", "token_ratio", "threshold", "tokens")

    def __init__(self, max_tokens: float = 10.0, token_ratio: float = 0.1,
                 initial: float | None = None):
        if not max_tokens > 0 or not token_ratio > 0:
            raise ValueError(
                f"max_tokens and token_ratio must be > 0, got {max_tokens!r}, {token_ratio!r}"
            )
        initial = max_tokens if initial is None else initial
        if not 0 <= initial <= max_tokens:
            raise ValueError(f"initial must be in [0, max_tokens={max_tokens!r}], got {initial!r}")
        self.max_tokens = max_tokens
        self.token_ratio = token_ratio
        self.threshold = max_tokens / 2.0
        self.tokens = float(initial)

    def on_success(self) -> None:
        tokens = self.tokens + self.token_ratio
        self.tokens = tokens if tokens < self.max_tokens else self.max_tokens

    def on_failure(self) -> None:
        """A retryable failure (gRFC A6 counts only those, not malformed requests)."""
        tokens = self.tokens - 1.0
        self.tokens = tokens if tokens > 0.0 else 0.0

    def retry_allowed(self) -> bool:
        return self.tokens > self.threshold
