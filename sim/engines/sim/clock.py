"""Scheduling a callback on SimPy's event queue, as cheaply as SimPy allows.

``Environment.schedule(event, priority, delay)`` is SimPy's public way to put an event on its
queue; the queue only needs an object with ``callbacks``, ``_ok`` and ``_value``, which is what
``Environment.step`` reads. A full ``simpy.Timeout`` costs about 60 % more per event, and the
model schedules tens of millions of them for a million instances. Ordering is unchanged:
SimPy's (time, priority, insertion counter) keys still break every tie.
"""

from __future__ import annotations

from simpy.events import NORMAL

__all__ = ["Wake", "Scheduler"]


class Wake:
    """A minimal event: one callback, one value, always 'succeeded'."""

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self, callback, value):
        self.callbacks = [callback]
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
