"""The model's clock: SimPy's ``Environment``, with a cheap way to schedule a callback.

The model is callbacks, not processes, so all it asks of the event loop is "call this function
with this value after this delay". ``Clock`` is a ``simpy.Environment``: SimPy's queue, its
ordering (time, priority, insertion order), its time arithmetic, its events.

A million instances schedule tens of millions of events, and SimPy's per-event cost is three
Python calls (``schedule``, ``step``, the callback) around a ``heappush``/``heappop``. So:

- ``later`` pushes a minimal ``Wake`` event onto SimPy's queue with exactly the entry
  ``Environment.schedule`` would push (``(now + delay, NORMAL, next(eid), event)``); a ``Wake``
  is a valid SimPy event (``callbacks``, ``_ok``, ``_value``), so ``Environment.step`` can
  process it too.
- ``run`` is SimPy's ``step`` loop with the ``Wake`` case inlined: pop, call the callback with
  the value. Any other SimPy event on the queue goes through ``Environment.step`` unchanged
  (pushed back with its own key first, so the order is untouched).

Both rely on two attributes of ``simpy.Environment`` that are not public (``_queue`` and
``_eid``, unchanged since SimPy 3.0); ``tests/unit/test_sim_clock.py`` checks the order, the
times and ``stop`` against SimPy's own ``Timeout`` events and ``run(until=event)``.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

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
        # Environment.schedule(Wake(callback, value), NORMAL, delay), without the extra call
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), Wake(callback, value)))

    def stop(self):
        """End ``run`` at the current time, as main's ``stop.succeed()`` did: events already
        scheduled for now run first, nothing scheduled after this call runs."""
        if not self._stop.triggered:
            self._stop.succeed()

    def run(self):
        """Process events until ``stop()``; ``RuntimeError`` if none are left before it (as
        SimPy's ``run(until=event)``)."""
        queue = self._queue
        stop = self._stop
        while True:
            try:
                entry = heappop(queue)
            except IndexError:
                raise RuntimeError(
                    f'No scheduled events left but "until" event was not triggered: {stop}'
                ) from None
            event = entry[3]
            if event.__class__ is Wake:
                self._now = entry[0]
                event.callback(event._value)
            elif event is stop:
                self._now = entry[0]
                stop.callbacks = None  # processed, as SimPy's step leaves it
                return
            else:
                heappush(queue, entry)  # the same key: SimPy's step pops it first again
                self.step()


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
