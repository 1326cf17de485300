"""The forwarder's TCP semantics, against small real servers on the host's loopback: bytes
intact under flow control, half-close, resets passed on, and closing a namespace's group.

Client sockets are made inside the test's own namespace (`in_namespace`), so they connect
the way an instance's process does. Needs root (skipped otherwise)."""

from __future__ import annotations

import os
import socket
import socketserver
import threading

import pytest

from sim.engines.exec.forwarder import Forwarder
from sim.engines.exec.netns import IMDS_V4, IMDS_V6, Namespace, in_namespace

from tests.integration._netns_fixtures import netns_required  # noqa: F401


class _Echo(socketserver.BaseRequestHandler):
    """Echoes until the client's FIN, then says how many bytes it got and closes."""

    def handle(self):
        total = 0
        while data := self.request.recv(65536):
            total += len(data)
            self.request.sendall(data)
        self.request.sendall(f"\nEND {total}".encode())


class _Reset(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(1)
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.request.close()  # linger 0: RST


def _server(handler):
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def bridge(netns_required):
    ns = Namespace.create(f"bootstorm-{os.getpid()}-fwdtest")
    fwd = Forwarder().start()
    servers = []
    try:
        yield ns, fwd, servers
    finally:
        fwd.stop()
        ns.remove()
        for srv in servers:
            srv.shutdown()
            srv.server_close()


def _connect(ns, address, port, timeout=10.0) -> socket.socket:
    return in_namespace(ns.name, lambda: socket.create_connection((address, port), timeout=timeout))


def _read_all(sock) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def test_bytes_arrive_intact_and_a_half_close_still_gets_the_answer(bridge):
    ns, fwd, servers = bridge
    echo = _server(_Echo)
    servers.append(echo)
    fwd.listen("g", ns.name, IMDS_V4, 80, echo.server_address[1])
    fwd.listen("g", ns.name, IMDS_V6, 80, echo.server_address[1])
    payload = os.urandom(4 * 1024 * 1024)  # far beyond socket buffers: flow control must hold
    for address in (IMDS_V4, IMDS_V6):
        sock = _connect(ns, address, 80)
        received = []
        reader = threading.Thread(target=lambda: received.append(_read_all(sock)))
        reader.start()
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # half-close: the answer must still come back
        reader.join(60)
        sock.close()
        assert received and received[0] == payload + f"\nEND {len(payload)}".encode()


def test_a_reset_upstream_is_a_reset_downstream_and_no_upstream_is_one_too(bridge):
    ns, fwd, servers = bridge
    resetter = _server(_Reset)
    servers.append(resetter)
    fwd.listen("g", ns.name, "127.0.0.1", 8080, resetter.server_address[1])
    sock = _connect(ns, "127.0.0.1", 8080)
    sock.sendall(b"x")
    with pytest.raises(ConnectionResetError):
        _read_all(sock)
    sock.close()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    fwd.listen("g", ns.name, "127.0.0.1", 8081, dead_port)
    with pytest.raises(ConnectionResetError):  # at connect, send or read: when the RST lands
        with _connect(ns, "127.0.0.1", 8081) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            _read_all(sock)


def test_closing_a_group_drops_its_connections_and_listeners_only(bridge):
    ns, fwd, servers = bridge
    echo = _server(_Echo)
    servers.append(echo)
    fwd.listen("a", ns.name, "127.0.0.1", 9001, echo.server_address[1])
    fwd.listen("b", ns.name, "127.0.0.1", 9002, echo.server_address[1])
    open_a = _connect(ns, "127.0.0.1", 9001)
    open_a.sendall(b"ping")
    assert open_a.recv(4) == b"ping"
    fwd.close("a")
    assert open_a.recv(4) == b""  # aborted by the forwarder
    open_a.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(ns, "127.0.0.1", 9001)
    still = _connect(ns, "127.0.0.1", 9002)
    still.sendall(b"pong")
    assert still.recv(4) == b"pong"
    still.close()
