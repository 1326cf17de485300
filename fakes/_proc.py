"""Start a fake server as its own process and know when it is ready.

The convention every fake follows: it is started as ``python -m fakes.<module> --port 0 ...``,
binds 127.0.0.1 (port 0 lets the OS pick a free one) and, once it accepts connections, prints
one JSON line on stdout: ``{"ready": true, "port": 12345, ...}``. The launcher waits for that
line (no fixed sleeps), then checks that the port accepts a TCP connection.

Children run in their own process group so a stop reaches everything they started, and are
asked to stop with SIGTERM, then killed if they do not.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from sim.errors import FakeFailed

__all__ = ["ServerProcess", "free_port", "wait_for_port"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the OS says is free on 127.0.0.1 right now (for servers that cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, host: str = LOOPBACK, timeout: float = 30.0) -> None:
    """Poll until ``host:port`` accepts a TCP connection, or raise FakeFailed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise FakeFailed(f"nothing accepts connections on {host}:{port} after {timeout:.0f}s")
            time.sleep(0.05)


@dataclass
class ServerProcess:
    """One fake server process. ``start()`` returns once it reported ready."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    ready_timeout: float = 60.0
    # For servers that do not print the ready line (moto, toxiproxy-server): the port we told
    # them to bind; readiness is then a successful TCP connect.
    fixed_port: int | None = None
    # Where the child's stderr goes: None inherits ours (a crashing fake shows its error),
    # a path appends to that file (chatty servers such as moto's werkzeug log).
    log_path: str | None = None
    info: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @classmethod
    def python_module(cls, name: str, module: str, *args: str, **kw) -> "ServerProcess":
        return cls(name=name, argv=[sys.executable, "-m", module, *args], **kw)

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> "ServerProcess":
        if self.alive():  # `with started_server:` must not launch a second process
            return self
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        log = open(self.log_path, "ab") if self.log_path else None
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.fixed_port is None else subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,
        )
        if log is not None:
            log.close()  # the child holds its own descriptor
        if self.fixed_port is None:
            self.info = self._read_ready_line()
        else:
            self.info = {"port": self.fixed_port}
            self._wait_for_fixed_port()
        wait_for_port(self.port, timeout=self.ready_timeout)
        return self

    def _read_ready_line(self) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        try:
            while time.monotonic() < deadline:
                if not sel.select(timeout=0.2):
                    if self.proc.poll() is not None:
                        break
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(msg, dict) and msg.get("ready"):
                        return msg
        finally:
            sel.close()
        code = self.proc.poll()
        self.stop()
        if code is not None:
            raise FakeFailed(f"{self.name} exited with code {code} before it was ready")
        raise FakeFailed(f"{self.name} did not report ready within {self.ready_timeout:.0f}s")

    def _wait_for_fixed_port(self) -> None:
        assert self.proc is not None and self.fixed_port is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise FakeFailed(f"{self.name} exited with code {code} before it was ready")
            try:
                with socket.create_connection((LOOPBACK, self.fixed_port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise FakeFailed(f"{self.name} did not accept connections within {self.ready_timeout:.0f}s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after ``grace`` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=grace)
        else:
            # The leader is gone; its group may still hold children.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
