"""`bootstorm run --engine exec` as a user runs it: a whole run, and Ctrl-C in the middle of one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.integration._exec_fixtures import (REGISTER, SLEEP_FOREVER, descendants, listening_ports,
                                              pid_alive, read_pids, script)

REPO = Path(__file__).resolve().parents[2]


def _wait_for(what, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _port_free(port: int) -> bool:
    """Nobody listens on it (SO_REUSEADDR: connections in TIME_WAIT do not hold a port)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
            return True
        except OSError:
            return False


def test_sigint_gives_a_partial_run_and_leaves_nothing_behind(tmp_path):
    pids = tmp_path / "pids"
    scenario = {
        "name": "exec-interrupt",
        "run": {"horizon": "10m"},
        "fleet": {"size": 3, "arrival": {"kind": "burst"}},
        "dependencies": {"registry": {"concurrency": 8, "service_time": "10ms",
                                      "operations": {"Register": {}}}},
        "bootstrap": {"steps": [{"name": "register", "call": "registry.Register", "mark": "ready"}]},
        "exec": {"command": SLEEP_FOREVER, "boot_timeout": "5m", "env": {"PIDS": str(pids)}},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    out = tmp_path / "results"
    env = {**os.environ, "TMPDIR": str(temp_root), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--engine", "exec", "--out", str(out),
         "--no-plots", "--quiet"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Every instance started: 3 shells, each with a background sleep.
        _wait_for("the bootstraps to start", lambda: len(read_pids(pids)) == 6 or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.communicate()
        children = descendants(proc.pid)
        ports = listening_ports(children)
        assert len(ports) >= 5  # moto, gate, IMDS, sinks, toxiproxy and its proxies
        assert set(read_pids(pids)) <= children
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted" in stderr
    left = [p for p in children | set(read_pids(pids)) if pid_alive(p)]
    assert not left, left
    assert [p for p in ports if not _port_free(p)] == []
    assert list(temp_root.iterdir()) == []
    folders = [f for f in out.iterdir() if not f.name.startswith(".")]
    assert len(folders) == 1
    summary = json.loads((folders[0] / "summary.json").read_text())
    assert summary["meta"]["partial"] is True
    assert summary["meta"]["engine"] == "exec"
    assert summary["outcomes"]["unfinished"] == 3 and summary["outcomes"]["ready"] == 0


def test_cli_runs_a_script_given_with_bootstrap(tmp_path):
    scenario = {
        "name": "exec-cli",
        "run": {"horizon": "2m"},
        "fleet": {"size": 3, "arrival": {"kind": "ramp", "over": "1s"}},
        "dependencies": {"registry": {"concurrency": 8, "service_time": "10ms",
                                      "operations": {"Register": {}}}},
        "bootstrap": {"steps": [{"name": "register", "call": "registry.Register", "mark": "ready"}],
                      "command": "exit 1"},
        "slos": ["bootstrap_success_rate >= 100%"],
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "results"
    command = script(tmp_path, "register", REGISTER)
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--engine", "exec", "--bootstrap", command,
         "--out", str(out), "--no-plots", "--quiet", "--json"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["meta"]["engine"] == "exec" and summary["meta"]["partial"] is False
    assert summary["outcomes"]["ready"] == 3 and summary["slos_passed"] is True
    folder = next(f for f in out.iterdir() if not f.name.startswith("."))
    assert "exec" in folder.name
    for name in ("attempts.csv", "run.json", "summary.json", "dependencies"):
        assert (folder / name).exists(), name
