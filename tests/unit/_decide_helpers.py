"""Running the real ``bootstorm`` CLI (``python -m sim.cli``) from tests, on this tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORM = ROOT / "scenarios" / "autoscale-storm.yaml"
# The storm compressed into 10 s of launches: SSM's 40/s quota binds from ~400 instances,
# so a few hundred instances show the whole story in a fraction of a second per run.
FAST = ["--set", "fleet.arrival.over=10s"]


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def bootstorm(*argv, cwd, timeout=300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.cli", *map(str, argv)], cwd=cwd,
                          env=cli_env(), capture_output=True, text=True, timeout=timeout, **kw)
