"""Scheduling a callback on SimPy's event queue, as cheaply as SimPy allows.

``Environment.schedule(event, priority, delay)`` is SimPy's public way to put an event on its
queue; the queue only needs an object with ``callbacks``, ``_ok`` and ``_value``, which is what
``Environment.step`` reads. A full ``simpy.Timeout`` costs about 60 % more per event, and the
model schedules tens of millions of them for a million instances. Ordering is unchanged:
SimPy's (time, priority, insertion counter) keys still break every tie.
"""

from __future__ import annotations

from collections import deque

from simpy.events import NORMAL

__all__ = ["Wake", "Scheduler", "Deadlines"]


class Wake:
    """A minimal event: one callback, one value, always 'succeeded'."""

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self, callback, value):
        self.callbacks = (callback,)  # SimPy only iterates it; a tuple is cheaper to make
        self._ok = True
        self._value = value


class Scheduler:
    """``later(delay, callback, value)``: call ``callback(event)`` after ``delay`` seconds,
    with ``event._value`` set to ``value``."""

    __slots__ = ("env", "_schedule")

    def __init__(self, env):
        self.env = env
        self._schedule = env.schedule

    def later(self, delay, callback, value=None):
        if delay < 0.0:
            raise ValueError(f"Negative delay {delay}")
        self._schedule(Wake(callback, value), NORMAL, delay)


class Deadlines:
    """``delay`` after each ``add(item)``, call ``on_due(item)``: one pending event in all.

    Every item waits the same ``delay`` and items are added at the current time, so a FIFO
    queue is already in deadline order. One event per boot for a health-check grace period
    would keep a million boots (and their state) alive in SimPy's queue long after they ended.
    """

    __slots__ = ("scheduler", "delay", "on_due", "queue", "armed")

    def __init__(self, scheduler: Scheduler, delay: float, on_due):
        self.scheduler = scheduler
        self.delay = delay
        self.on_due = on_due
        self.queue: deque = deque()
        self.armed = False

    def add(self, item) -> None:
        self.queue.append((self.scheduler.env._now + self.delay, item))
        if not self.armed:
            self._arm()

    def _arm(self) -> None:
        self.armed = True
        due = self.queue[0][0] - self.scheduler.env._now
        self.scheduler.later(due if due > 0.0 else 0.0, self._fire)

    def _fire(self, ev) -> None:
        self.armed = False
        now = self.scheduler.env._now
        queue = self.queue
        while queue and queue[0][0] <= now:
            self.on_due(queue.popleft()[1])
        if queue:
            self._arm()
