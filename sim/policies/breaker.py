"""A circuit breaker: closed, open, half-open.

Closed: every attempt goes through; the breaker opens after ``failure_threshold`` failures in a
row, or when at least ``min_calls`` of the last ``window`` outcomes are known and the share of
failures among them reaches ``failure_rate``. Open: attempts are refused for ``open_for``
seconds. Half-open: up to ``half_open_probes`` attempts go through; one failure opens the breaker
again, ``half_open_probes`` successes close it.

``retries_only`` (scenario ``blocks: retries``) is for callers: the breaker keeps the same
states, but the controller lets every first attempt through and gates only retries, like
Envoy's ``max_retries`` circuit breaker and gRPC retry throttling; a first attempt's outcome
counts only while the breaker is closed.

Outcomes are reported with the ``epoch`` that ``allow`` handed out, so a slow answer to an
attempt made before the last state change cannot be mistaken for a probe's answer.
"""

from __future__ import annotations

__all__ = ["CircuitBreaker", "CLOSED", "OPEN", "HALF_OPEN"]

CLOSED = 0
OPEN = 1
HALF_OPEN = 2
_STATE_NAMES = ("closed", "open", "half_open")


class CircuitBreaker:
    __slots__ = (
        "failure_threshold",
        "failure_rate",
        "window",
        "min_calls",
        "open_for",
        "half_open_probes",
        "retries_only",
        "state",
        "epoch",
        "opened_at",
        "times_opened",
        "_consecutive",
        "_ring",
        "_ring_pos",
        "_ring_count",
        "_ring_failures",
        "_probes_in_flight",
        "_probe_successes",
    )

    def __init__(
        self,
        failure_threshold: int | None = 5,
        failure_rate: float | None = None,
        window: int = 20,
        min_calls: int = 10,
        open_for: float = 30.0,
        half_open_probes: int = 1,
        blocks: str = "all",
    ):
        if failure_threshold is None and failure_rate is None:
            raise ValueError("expected failure_threshold or failure_rate (or both), got neither")
        if failure_threshold is not None and failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold!r}")
        if failure_rate is not None and not 0.0 < failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be in (0, 1], got {failure_rate!r}")
        if window < 1 or not 1 <= min_calls <= window:
            raise ValueError(
                f"expected 1 <= min_calls <= window, got min_calls={min_calls!r}, window={window!r}"
            )
        if open_for < 0 or half_open_probes < 1:
            raise ValueError(
                "expected open_for >= 0 and half_open_probes >= 1, "
                f"got {open_for!r}, {half_open_probes!r}"
            )
        if blocks not in ("all", "retries"):
            raise ValueError(f"blocks must be 'all' or 'retries', got {blocks!r}")
        self.retries_only = blocks == "retries"
        self.failure_threshold = failure_threshold
        self.failure_rate = failure_rate
        self.window = window
        self.min_calls = min_calls
        self.open_for = open_for
        self.half_open_probes = half_open_probes
        self.state = CLOSED
        self.epoch = 0
        self.opened_at = 0.0
        self.times_opened = 0
        self._consecutive = 0
        # A fixed ring of 0/1 outcomes: no allocation per call.
        self._ring = [0] * window if failure_rate is not None else None
        self._ring_pos = 0
        self._ring_count = 0
        self._ring_failures = 0
        self._probes_in_flight = 0
        self._probe_successes = 0

    @property
    def state_name(self) -> str:
        return _STATE_NAMES[self.state]

    def allow(self, now: float) -> bool:
        """May an attempt start now? In half-open this reserves one probe slot."""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN:
            if now < self.opened_at + self.open_for:
                return False
            self._enter(HALF_OPEN)
        if self._probes_in_flight < self.half_open_probes:
            self._probes_in_flight += 1
            return True
        return False

    def is_open(self, now: float) -> bool:
        """True while the breaker refuses every attempt (open and not yet due to half-open)."""
        return self.state == OPEN and now < self.opened_at + self.open_for

    def record(self, now: float, failed: bool, epoch: int) -> None:
        """The outcome of an attempt that ``allow`` let through during ``epoch``."""
        if epoch != self.epoch:
            return
        state = self.state
        if state == HALF_OPEN:
            self._probes_in_flight -= 1
            if failed:
                self._trip(now)
            else:
                self._probe_successes += 1
                if self._probe_successes >= self.half_open_probes:
                    self._enter(CLOSED)
            return
        if state != CLOSED:
            return
        if failed:
            self._consecutive += 1
        else:
            self._consecutive = 0
        ring = self._ring
        if ring is not None:
            pos = self._ring_pos
            self._ring_failures += failed - ring[pos]
            ring[pos] = 1 if failed else 0
            self._ring_pos = pos + 1 if pos + 1 < self.window else 0
            if self._ring_count < self.window:
                self._ring_count += 1
        if not failed:
            return
        threshold = self.failure_threshold
        if threshold is not None and self._consecutive >= threshold:
            self._trip(now)
        elif (
            ring is not None
            and self._ring_count >= self.min_calls
            and self._ring_failures >= self.failure_rate * self._ring_count - 1e-9
        ):
            self._trip(now)

    def _trip(self, now: float) -> None:
        self.opened_at = now
        self.times_opened += 1
        self._enter(OPEN)

    def _enter(self, state: int) -> None:
        self.state = state
        self.epoch += 1
        self._consecutive = 0
        self._probes_in_flight = 0
        self._probe_successes = 0
        if state == CLOSED and self._ring is not None:
            ring = self._ring
            for i in range(self.window):
                ring[i] = 0
            self._ring_pos = self._ring_count = self._ring_failures = 0
