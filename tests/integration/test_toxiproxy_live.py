"""Live changes on open connections (toxics, enable/disable), and the server as a process."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from toxiproxy.api import APIConsumer

from _toxiproxy_fixtures import (  # noqa: F401
    connect,
    echo_port,
    echo_proxy,
    echo_server,
    pattern,
    recv_exactly,
    recv_until_closed,
    toxiproxy,
    toxiproxy_server,
)
from fakes.toxiproxy import start_toxiproxy, toxiproxy_client

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


class Streamer:
    """Sends a known pattern through a connection and reads the echo back, on two threads.

    The sender only sends what ``push`` allows, so the test decides what is in flight when it
    changes the toxics.
    """

    def __init__(self, sock: socket.socket, size: int, block: int = 16384):
        self.sock, self.data, self.block = sock, pattern(size), block
        self.sent = 0
        self.allowed = 0
        self.received = bytearray()
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._send, daemon=True), threading.Thread(target=self._recv, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _send(self) -> None:
        try:
            while self.sent < len(self.data):
                with self._cond:
                    self._cond.wait_for(lambda: self.allowed > self.sent, timeout=60)
                    end = min(self.allowed, self.sent + self.block)
                self.sock.sendall(self.data[self.sent : end])
                with self._cond:
                    self.sent = end
                    self._cond.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _recv(self) -> None:
        try:
            while len(self.received) < len(self.data):
                self.sock.settimeout(60)
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise AssertionError(f"closed after {len(self.received)} bytes")
                self.received += chunk
        except BaseException as exc:
            self.error = exc

    def push(self, size: int) -> None:
        """Let ``size`` more bytes go and return once the sender has written them."""
        with self._cond:
            self.allowed = min(self.allowed + size, len(self.data))
            self._cond.notify_all()
            assert self._cond.wait_for(lambda: self.sent >= self.allowed or self.error, timeout=60)

    def finish(self) -> None:
        self.push(len(self.data))
        for thread in self._threads:
            thread.join(timeout=60)


def test_adding_and_removing_toxics_mid_stream_loses_and_reorders_nothing(echo_proxy):
    tranche = 256 * 1024
    with connect(echo_proxy) as sock:
        streamer = Streamer(sock, 24 * tranche)
        streamer.push(tranche)
        # Each change happens right after a tranche was written, while bytes are still in flight.
        steps = [
            lambda: echo_proxy.add_toxic(type="latency", name="lag", attributes={"latency": 300}),
            lambda: echo_proxy.add_toxic(type="slicer", name="cut", attributes={"average_size": 4096, "size_variation": 1000, "delay": 50}),
            lambda: APIConsumer.post("/proxies/echo/toxics/lag", json={"attributes": {"latency": 100, "jitter": 50}}),
            lambda: echo_proxy.add_toxic(type="bandwidth", name="bw", stream="upstream", attributes={"rate": 20_000}),
            lambda: echo_proxy.destroy_toxic("lag"),
            lambda: echo_proxy.add_toxic(type="latency", name="lag2", stream="upstream", attributes={"latency": 200}),
            lambda: echo_proxy.destroy_toxic("bw"),
            lambda: echo_proxy.destroy_toxic("cut"),
            lambda: echo_proxy.destroy_toxic("lag2"),
            lambda: echo_proxy.add_toxic(type="latency", name="lag3", attributes={"latency": 100}),
            lambda: echo_proxy.destroy_toxic("lag3"),
        ]
        in_flight = 0
        for step in steps:
            streamer.push(tranche)
            in_flight += len(streamer.received) < streamer.sent
            step()
        streamer.finish()
    assert in_flight >= len(steps) // 2  # the changes really met bytes on their way
    assert streamer.error is None
    assert len(streamer.received) == len(streamer.data)
    assert bytes(streamer.received) == streamer.data


def test_disable_closes_live_connections_and_refuses_new_ones(echo_proxy):
    host, port = echo_proxy.listen.rsplit(":", 1)
    with connect(echo_proxy) as sock:
        sock.sendall(b"hi")
        assert recv_exactly(sock, 2) == b"hi"
        echo_proxy.disable()
        try:
            assert recv_until_closed(sock) == b""
        except ConnectionResetError:
            pass  # closed either way
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
    echo_proxy.enable()
    with connect(echo_proxy) as sock:
        sock.sendall(b"back")
        assert recv_exactly(sock, 4) == b"back"


def test_deleting_a_proxy_closes_its_connections(toxiproxy, echo_proxy):
    with connect(echo_proxy) as sock:
        sock.sendall(b"hi")
        assert recv_exactly(sock, 2) == b"hi"
        echo_proxy.destroy()
        assert recv_until_closed(sock) == b""


def test_upstream_down_closes_the_client(toxiproxy):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = unused.getsockname()[1]  # bound, not listening: connections are refused
        proxy = toxiproxy.create(upstream=f"127.0.0.1:{dead}", name="dead")
        with connect(proxy) as sock:
            assert recv_until_closed(sock) == b""


def test_many_connections_at_once(echo_proxy):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 50})
    socks = [connect(echo_proxy) for _ in range(50)]
    try:
        for number, sock in enumerate(socks):
            sock.sendall(number.to_bytes(4, "big"))
        for number, sock in enumerate(socks):
            assert recv_exactly(sock, 4) == number.to_bytes(4, "big")
    finally:
        for sock in socks:
            sock.close()


def test_cli_refuses_non_loopback_host():
    result = subprocess.run(
        [sys.executable, "-m", "fakes.toxiproxy", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr and "0.0.0.0" in result.stderr
    assert result.stdout == ""


def test_sigterm_closes_connections_and_exits_zero(echo_port):
    server = start_toxiproxy(use_binary=False)
    try:
        assert server.info == {"ready": True, "port": server.port, "name": "toxiproxy"}
        client = toxiproxy_client(server)
        proxy = client.create(upstream=f"127.0.0.1:{echo_port}", name="term")
        with connect(proxy) as sock:
            sock.sendall(b"hi")
            assert recv_exactly(sock, 2) == b"hi"
            os.killpg(server.proc.pid, signal.SIGTERM)
            assert server.proc.wait(timeout=30) == 0
            assert recv_until_closed(sock) == b""
    finally:
        server.stop()


def test_start_toxiproxy_prefers_a_binary_on_path(tmp_path, monkeypatch, echo_port):
    # A stand-in for the Go binary that speaks its flags (-host, -port) and prints no ready line.
    shim = tmp_path / "toxiproxy-server"
    shim.write_text(
        "#!/bin/sh\n"
        f"export PYTHONPATH={REPO}\n"
        f"exec {sys.executable} -m fakes.toxiproxy \"$@\" > /dev/null\n"
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    server = start_toxiproxy()
    try:
        assert server.info["binary"] == str(shim)
        client = toxiproxy_client(server)
        assert json.loads(client.version())["version"]
        proxy = client.create(upstream=f"127.0.0.1:{echo_port}", name="via-binary")
        with connect(proxy) as sock:
            sock.sendall(b"ok")
            assert recv_exactly(sock, 2) == b"ok"
    finally:
        server.stop()
    assert not server.alive()


def test_start_toxiproxy_result_works_as_a_context_manager():
    server = start_toxiproxy(use_binary=False)
    pid = server.proc.pid
    with server as entered:  # must not start a second process
        assert entered is server and server.proc.pid == pid
        assert json.loads(toxiproxy_client(server).version())["version"]
    assert not server.alive()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
