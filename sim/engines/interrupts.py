"""Ctrl-C and SIGTERM during a real-process run: set a flag, let the engine's loop wind down.

The exec and load engines each watch ``interrupted`` in their wait loop, stop what they
started, and return a partial Run; a signal handler that raised instead would skip that.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["flag_interrupts", "restore_signals"]


def flag_interrupts(engine) -> dict | None:
    """Until ``restore_signals``, SIGINT and SIGTERM set ``engine.interrupted``; returns the
    previous handlers. Only the main thread may install handlers: elsewhere, nothing."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum, frame):  # only a flag: the engine's loop does the rest
        engine.interrupted = True
    return {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}


def restore_signals(previous: dict | None) -> None:
    for signum, handler in (previous or {}).items():
        signal.signal(signum, handler)
