"""The sweep's journal: one JSON line per finished run, appended as each run finishes.

A sweep killed at any moment (even SIGKILL in the middle of a write) loses at most the runs
that were in flight: on restart the journal is read back, a torn last line is cut off, and
only the (point, seed) pairs not in it are run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sim.metrics.summary_file import json_nulls, number

__all__ = ["Journal", "json_safe"]


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict[tuple[str, int], dict]:
        """Finished runs by (point key, seed); repairs a torn last line in place."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # killed mid-write: drop the partial line so appends stay clean
            with open(self.path, "r+b") as f:
                f.truncate(end)
        records = {}
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rec["metrics"] = {k: number(v) for k, v in rec["metrics"].items()}
                key = (str(rec["point"]), int(rec["seed"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line damaged some other way: that run is simply done again
            records[key] = rec
        return records

    def append(self, record: dict) -> None:
        # Metrics as summary.json writes them: NaN (not measured) null, +inf (never) "inf";
        # json_safe would make "never" null, and a resumed sweep would read "not measured".
        record = {**record, "metrics": json_nulls(record.get("metrics", {}))}
        line = json.dumps(json_safe(record), sort_keys=True, allow_nan=False) + "\n"
        # One write of the whole line, flushed to the kernel: a killed process leaves either
        # the full line or a torn tail that ``load`` cuts off.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def json_safe(obj):
    """``obj`` with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
