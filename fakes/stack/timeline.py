"""Apply and lift a scenario's faults on the fakes as wall-clock time passes.

    timeline = FaultTimeline(stack, scenario.faults)
    timeline.start()            # t0 = now (time.monotonic()); or start(t0) for a shared origin
    ...                         # the run
    timeline.stop()             # lifts whatever is still applied
    timeline.records            # what happened, for the Run's fault timeline

One thread sleeps on an Event until the next transition, so stop() wakes it at once. A fault
that fails to apply is recorded (``error``) and the timeline carries on: a broken fault is
data in the run, not a crashed run.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Sequence

__all__ = ["FaultTimeline"]


class FaultTimeline:
    def __init__(self, stack, faults: Sequence[Any]) -> None:
        self.stack = stack
        self.faults = list(faults)
        self.records: list[dict[str, Any]] = [
            {"index": i, "kind": f.kind, "target": f.target, "at": float(f.at),
             "end": None if f.for_ is None else float(f.at + f.for_),
             "applied_at": None, "lifted_at": None, "error": None, "notes": []}
            for i, f in enumerate(self.faults)
        ]
        self._handles: dict[int, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.t0: float | None = None

    def _events(self) -> list[tuple[float, int, str, int]]:
        events = []
        for i, fault in enumerate(self.faults):
            events.append((float(fault.at), 1, "apply", i))
            if fault.for_ is not None:
                # Lifts sort before applies at the same instant: back-to-back faults on one
                # target do not overlap.
                events.append((float(fault.at + fault.for_), 0, "lift", i))
        return sorted(events)

    def start(self, t0: float | None = None) -> "FaultTimeline":
        """Start the clock at ``t0`` (a ``time.monotonic()`` value; default now)."""
        if self._thread is not None:
            raise RuntimeError("FaultTimeline.start() called twice")
        self.t0 = time.monotonic() if t0 is None else t0
        self._thread = threading.Thread(target=self._run, name="bootstorm-fault-timeline", daemon=True)
        self._thread.start()
        return self

    def elapsed(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def _run(self) -> None:
        for at, _, action, index in self._events():
            wait = at - self.elapsed()
            if wait > 0 and self._stop.wait(wait):
                return
            if self._stop.is_set():
                return
            if action == "apply":
                self._apply(index)
            else:
                self._lift(index)

    def _apply(self, index: int) -> None:
        record = self.records[index]
        with self._lock:
            if self._stop.is_set():
                return
            record["applied_at"] = self.elapsed()
            try:
                handle = self.stack.apply(self.faults[index])
            except Exception as exc:  # recorded, not raised: see the module docstring
                record["error"] = f"{type(exc).__name__}: {exc}"
                return
            record["notes"] = list(handle.notes)
            if handle.active:
                self._handles[index] = handle
            else:
                record["lifted_at"] = record["applied_at"]

    def _lift(self, index: int) -> None:
        with self._lock:
            handle = self._handles.pop(index, None)
            if handle is None:
                return
            self.records[index]["lifted_at"] = self.elapsed()
            try:
                self.stack.lift_fault(handle)
            except Exception as exc:
                self.records[index]["error"] = f"lift failed: {type(exc).__name__}: {exc}"

    def active(self) -> list[int]:
        """Indexes of the faults applied now."""
        with self._lock:
            return sorted(self._handles)

    def stop(self) -> None:
        """Stop the clock and lift every fault still applied (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        for index in list(self._handles):
            self._lift(index)

    def __enter__(self) -> "FaultTimeline":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
