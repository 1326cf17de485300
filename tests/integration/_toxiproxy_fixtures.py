"""Fixtures for the toxiproxy tests: one real server process and one echo upstream per module.

Imported by name into each ``test_toxiproxy_*`` module (there is no conftest for them). The
server is always this package's implementation (a real binary on PATH is not picked up here),
driven through the PyPI ``toxiproxy-python`` client; each test starts from a server with no
proxies and no toxics. The upstream is a threaded TCP echo server on a free loopback port.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from toxiproxy.api import APIConsumer

from fakes.toxiproxy import start_toxiproxy, toxiproxy_client

__all__ = [
    "toxiproxy_server",
    "toxiproxy",
    "echo_port",
    "echo_proxy",
    "connect",
    "recv_exactly",
    "recv_until_closed",
    "pattern",
    "EchoServer",
]

IO_TIMEOUT = 20.0  # generous: the machine may be loaded


class EchoServer:
    """Echoes every byte back on each accepted connection, one thread per connection."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = conn.recv(262144)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture(scope="module")
def toxiproxy_server():
    server = start_toxiproxy(use_binary=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def toxiproxy(toxiproxy_server):
    """A toxiproxy-python client on a clean server (no proxies, no toxics)."""
    client = toxiproxy_client(toxiproxy_server)
    client.reset()
    client.destroy_all()
    yield client
    APIConsumer.port = toxiproxy_server.port  # a test may have aimed the client elsewhere
    client.reset()
    client.destroy_all()


@pytest.fixture(scope="module")
def echo_server():
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def echo_port(echo_server) -> int:
    return echo_server.port


@pytest.fixture
def echo_proxy(toxiproxy, echo_port):
    """A proxy named ``echo`` in front of the echo upstream."""
    return toxiproxy.create(upstream=f"127.0.0.1:{echo_port}", name="echo")


def connect(proxy, timeout: float = IO_TIMEOUT) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int, timeout: float = IO_TIMEOUT) -> bytes:
    """Read exactly ``size`` bytes, failing the test if the peer closes or stalls first."""
    deadline = time.monotonic() + timeout
    chunks = []
    got = 0
    while got < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            raise AssertionError(f"connection closed after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_closed(sock: socket.socket, timeout: float = IO_TIMEOUT) -> bytes:
    """Everything the peer sends until it closes (raises socket.timeout if it never does)."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def pattern(size: int, offset: int = 0) -> bytes:
    """A byte pattern where a lost, duplicated or reordered block shows: 4-byte counters."""
    first = offset // 4
    words = (size + offset % 4 + 3) // 4 + 1
    raw = b"".join((first + i).to_bytes(4, "big") for i in range(words))
    start = offset % 4
    return raw[start : start + size]
