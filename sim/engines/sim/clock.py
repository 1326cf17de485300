"""The model's clock: SimPy's ``Environment``, with a cheap way to schedule a callback.

The model is callbacks, not processes, so all it asks of the event loop is "call this function
with this value after this delay". ``Clock`` is a ``simpy.Environment``: SimPy's queue, its
ordering (time, priority, insertion order), its time arithmetic, its events.

A million instances schedule tens of millions of events, and SimPy's per-event cost is three
Python calls (``schedule``, ``step``, the callback) around a ``heappush``/``heappop`` on a heap
that, at a million instances, holds some 300,000 pending wakes. So:

- ``later`` makes exactly the entry ``Environment.schedule`` would push
  (``(now + delay, NORMAL, next(eid), event)``) for a minimal ``Wake`` event (a valid SimPy
  event: ``callbacks``, ``_ok``, ``_value``). An entry due in the current one-second window goes
  on SimPy's queue; a later one waits in its window's bucket until ``run`` reaches that window.
- ``run`` is SimPy's ``step`` loop with the ``Wake`` case inlined (pop, call the callback with
  the value) and the buckets opened in time order. Any other SimPy event goes through
  ``Environment.step`` unchanged (pushed back with its own key first, so the order holds).

Events run in SimPy's order (time, priority, insertion) because every entry due before the end
of the current window is on the queue. Both rely on two attributes of ``simpy.Environment``
that are not public (``_queue`` and ``_eid``, unchanged since SimPy 3.0);
``tests/unit/test_sim_clock.py`` checks the order, the times and ``stop`` against SimPy's own
``Timeout`` events and ``run(until=event)``.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush

import simpy
from simpy.events import NORMAL

__all__ = ["Clock", "Deadlines", "Wake"]


def _dispatch(event):
    event.callback(event._value)


# SimPy only iterates an event's callbacks (and sets them to None once processed): every Wake
# can share this one tuple instead of building its own.
_DISPATCH = (_dispatch,)
_INF = float("inf")


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
    ``run()`` until ``stop()``; ``now`` is the time of the event being processed.

    Wakes due in a later window of ``WINDOW`` seconds wait in a bucket of their window, not on
    SimPy's queue: a million instances keep some 300,000 wakes pending (most of them OS boots,
    25 s each), and every ``heappop`` on a heap that size walks ~18 levels of tuples scattered
    over memory. When the queue holds nothing before the next bucket's window, ``run`` moves
    that bucket onto it. Each entry is the one ``schedule`` would have pushed (time, priority,
    insertion number, event), and every entry due before the end of the current window is on
    the queue, so events still run in SimPy's order: time, priority, then insertion.
    """

    WINDOW = 1.0  # seconds; a power of two, so window boundaries are exact in floating point

    def __init__(self):
        super().__init__()
        self._stop = self.event()
        self._window_end = self.WINDOW  # every entry due before this is on self._queue
        self._buckets: dict[int, list] = {}  # window number -> entries due in that window
        self._bucket_keys: list[int] = []  # heap of the window numbers in _buckets

    def later(self, delay, callback, value=None):
        if delay < 0.0:
            raise ValueError(f"Negative delay {delay}")
        # Environment.schedule(Wake(callback, value), NORMAL, delay), without the extra call
        at = self._now + delay
        entry = (at, NORMAL, next(self._eid), Wake(callback, value))
        if at < self._window_end or not at < _INF:  # +inf and NaN stay where SimPy put them
            heappush(self._queue, entry)
            return
        k = int(at / self.WINDOW)
        bucket = self._buckets.get(k)
        if bucket is None:
            bucket = self._buckets[k] = []
            heappush(self._bucket_keys, k)
        bucket.append(entry)

    def pending(self) -> int:
        """Events scheduled and not processed yet (on the queue or in a window's bucket)."""
        return len(self._queue) + sum(len(b) for b in self._buckets.values())

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
        keys = self._bucket_keys
        window_end = self._window_end
        while True:
            if keys and (not queue or queue[0][0] >= window_end):
                # Nothing on the queue before the next bucket's window: open that window.
                k = heappop(keys)
                bucket = self._buckets.pop(k)
                if len(bucket) > len(queue):
                    queue.extend(bucket)
                    heapify(queue)
                else:
                    for entry in bucket:
                        heappush(queue, entry)
                window_end = self._window_end = (k + 1) * self.WINDOW
                continue
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
