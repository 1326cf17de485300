"""``bootstorm fakes up/down`` as real processes, and a stack that loses a fake."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fakes.stack import Stack
from fakes.stack.cli import main
from fakes.stack.state import group_alive
from sim.errors import FakeFailed

ROOT = Path(__file__).resolve().parents[2]


def _start_up(state: Path) -> tuple[subprocess.Popen, list[str]]:
    """``fakes up`` in its own process; returns it once it printed its ready line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.stack.cli", "up", "--state", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ready"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(90) or proc.poll() is not None:
        proc.kill()
        raise AssertionError(f"fakes up did not get ready: {''.join(lines)}{proc.stderr.read()[-2000:]}")
    return proc, lines


def _port_free(port: int) -> bool:
    # SO_REUSEADDR: a closed connection's TIME_WAIT may linger on the port; only a socket
    # still bound (a live process) makes this bind fail.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _assert_all_gone(state: dict) -> None:
    pgids = [p["pgid"] for p in state["processes"].values()]
    deadline = time.monotonic() + 20
    while any(group_alive(g) for g in pgids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [g for g in pgids if group_alive(g)]
    ports = [p["port"] for p in state["processes"].values()] + list(state["proxies"].values())
    assert len(ports) == 5 + 8
    assert [p for p in ports if not _port_free(p)] == []


def test_fakes_up_prints_endpoints_and_sigint_leaves_nothing_behind(tmp_path):
    state_path = tmp_path / "fakes.json"
    proc, lines = _start_up(state_path)
    try:
        out = "".join(lines)
        state = json.loads(state_path.read_text())
        assert state["owner_pid"] == proc.pid
        assert set(state["processes"]) == {"moto", "gate", "imds", "sinks", "toxiproxy"}
        assert "export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:" in out
        assert f"export AWS_ENDPOINT_URL_SECRETS_MANAGER={state['endpoints']['secretsmanager']}" in out
        assert "app/db-password" in out and "bs-" not in out  # names, never planted values
        assert "bs-" not in state_path.read_text()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _assert_all_gone(state)
    assert not state_path.exists()


def test_fakes_down_stops_a_stack_started_elsewhere(tmp_path, capsys):
    state_path = tmp_path / "fakes.json"
    proc, _ = _start_up(state_path)
    try:
        state = json.loads(state_path.read_text())
        assert main(["down", "--state", str(state_path)]) == 0
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _assert_all_gone(state)
    assert not state_path.exists()
    assert "stopped gate, imds, moto, sinks, toxiproxy" in capsys.readouterr().out


def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys):
    assert main(["down", "--state", str(tmp_path / "missing.json")]) == 2
    assert "no fakes state file" in capsys.readouterr().err
    assert main(["up", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("[1, 2]")
    assert main(["down", "--state", str(tmp_path / "junk.json")]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["sideways"])
    assert exit_.value.code == 2


def test_a_dead_fake_stops_the_stack_with_a_clear_error(tmp_path):
    stack = Stack(None, state_file=tmp_path / "s.json").start()
    try:
        state = json.loads((tmp_path / "s.json").read_text())
        os.killpg(state["processes"]["sinks"]["pgid"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while stack.failure is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(FakeFailed, match=r"sinks \(exit code -9\)"):
            stack.add_instance("i-0000000000000a7e0")
        _assert_all_gone(state)
        assert not (tmp_path / "s.json").exists()
    finally:
        stack.stop()


def test_a_missing_runtime_module_exits_3_without_a_traceback(tmp_path):
    # What `pip install -e .` without toxiproxy-python in the main dependencies did: the
    # client module is not there. A shadow package on PYTHONPATH makes it so here.
    shadow = tmp_path / "shadow" / "toxiproxy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'toxiproxy'\", name='toxiproxy')\n")
    env = {**os.environ, "PYTHONPATH": f"{shadow.parent}{os.pathsep}{ROOT}"}
    state = tmp_path / "state.json"
    done = subprocess.run([sys.executable, "-m", "sim.cli", "fakes", "up", "--state", str(state)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "harness failure: ModuleNotFoundError: No module named 'toxiproxy'" in done.stderr
    assert "pip install -e ." in done.stderr
    assert not state.exists()  # the stack it started is stopped and its state file gone
