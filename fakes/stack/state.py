"""The stack's state file: where everything listens and which process groups to stop.

Written atomically (temp file + rename) when a stack has started, removed when it stops.
``stop_from_state`` is ``bootstorm fakes down``: it stops a stack another process started,
SIGTERM to every recorded process group, a grace period, then SIGKILL, then removes the file.
The file holds no secret values (only names), so it may sit in a working directory.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.errors import InvalidInput

__all__ = ["DEFAULT_STATE_FILE", "write_state", "read_state", "stop_from_state", "group_alive"]

DEFAULT_STATE_FILE = ".bootstorm-fakes.json"
FORMAT = "bootstorm-fakes-state/1"


def write_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"format": FORMAT, **state}, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, target)
    return target


def read_state(path: str | os.PathLike) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            state = json.load(fh)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no fakes state file here (is a stack running? `bootstorm fakes up` writes it)") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: expected a fakes state file (JSON), could not read it: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("processes"), dict):
        raise InvalidInput(f"{path}: expected a fakes state file of format {FORMAT!r}, got something else")
    return state


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(pgids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [g for g in pgids if group_alive(g)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [g for g in alive if group_alive(g)]
    return alive


def stop_from_state(path: str | os.PathLike, grace: float = 10.0) -> dict[str, Any]:
    """Stop the stack a state file describes; returns what was done (for the CLI to print).

    The owning ``fakes up`` process is asked first (SIGTERM), so it tears down in order and
    removes its own file; every recorded process group is then stopped directly, in case the
    owner is gone or wedged.
    """
    state = read_state(path)
    owner = state.get("owner_pid")
    if isinstance(owner, int) and owner > 0 and owner != os.getpid():
        try:
            os.kill(owner, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            owner = None
        else:
            deadline = time.monotonic() + grace
            # The owner removes the file once its fakes are down; a zombie owner (our own
            # child, not yet waited for) still answers kill(pid, 0), so the file is the signal.
            while time.monotonic() < deadline and os.path.exists(path):
                try:
                    os.kill(owner, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
    pgids = [int(p["pgid"]) for p in state["processes"].values() if isinstance(p, dict) and p.get("pgid")]
    for pgid in pgids:
        if group_alive(pgid):
            _signal_group(pgid, signal.SIGTERM)
    left = _wait_gone(pgids, grace)
    for pgid in left:
        _signal_group(pgid, signal.SIGKILL)
    left = _wait_gone(left, grace)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return {"processes": sorted(state["processes"]), "still_running": left}
