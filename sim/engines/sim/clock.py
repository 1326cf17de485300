"""The model's clock: SimPy's ``Environment``, with a cheap way to schedule a callback.

The model is callbacks, not processes, so all it asks of the event loop is "call this function
with this value after this delay". ``Clock`` is a ``simpy.Environment``: SimPy's queue, its
ordering (time, priority, insertion order), its time arithmetic and its ``run(until=event)``.
``later`` puts a minimal event on that queue with SimPy's public ``Environment.schedule``: the
queue needs only an object with ``callbacks``, ``_ok`` and ``_value`` (what ``step`` reads); a
full ``simpy.Timeout`` costs more per event, and a million instances schedule tens of millions.
"""

from __future__ import annotations

from collections import deque

import simpy
from simpy.events import NORMAL

__all__ = ["Clock", "Deadlines", "Wake"]


def _dispatch(event):
    event.callback(event._value)


# SimPy only iterates an event's callbacks (and sets them to None once processed): every Wake
# can share this one tuple instead of building its own.
_DISPATCH = (_dispatch,)


class Wake:
    """A minimal event, always 'succeeded': SimPy calls ``callback(value)`` through
    ``_dispatch`` (the model's callbacks take the value, not the event)."""

    __slots__ = ("callbacks", "_ok", "_value", "callback")

    def __init__(self, callback, value):
        self.callbacks = _DISPATCH
        self._ok = True
        self._value = value
        self.callback = callback


class Clock(simpy.Environment):
    """``later(delay, callback, value)``: call ``callback(value)`` after ``delay`` seconds;
    ``run()`` until ``stop()``; ``now`` is the time of the event being processed."""

    def __init__(self):
        super().__init__()
        self._stop = self.event()

    def later(self, delay, callback, value=None):
        if delay < 0.0:
            raise ValueError(f"Negative delay {delay}")
        self.schedule(Wake(callback, value), NORMAL, delay)

    def stop(self):
        """End ``run`` at the current time, as main's ``stop.succeed()`` did: events already
        scheduled for now run first, nothing scheduled after this call runs."""
        if not self._stop.triggered:
            self._stop.succeed()

    def run(self):
        """Process events until ``stop()``; SimPy raises ``RuntimeError`` if none are left."""
        super().run(until=self._stop)


class Deadlines:
    """``delay`` after each ``add(item)``, call ``on_due(item)``: one pending event in all.

    Every item waits the same ``delay`` and items are added at the current time, so a FIFO
    queue is already in deadline order. One event per boot for a health-check grace period
    would keep a million boots (and their state) alive in the event queue long after they ended.
    """

    __slots__ = ("clock", "delay", "on_due", "queue", "armed")

    def __init__(self, clock: Clock, delay: float, on_due):
        self.clock = clock
        self.delay = delay
        self.on_due = on_due
        self.queue: deque = deque()
        self.armed = False

    def add(self, item) -> None:
        self.queue.append((self.clock._now + self.delay, item))
        if not self.armed:
            self._arm()

    def _arm(self) -> None:
        self.armed = True
        due = self.queue[0][0] - self.clock._now
        self.clock.later(due if due > 0.0 else 0.0, self._fire)

    def _fire(self, _value) -> None:
        self.armed = False
        now = self.clock._now
        queue = self.queue
        while queue and queue[0][0] <= now:
            self.on_due(queue.popleft()[1])
        if queue:
            self._arm()
