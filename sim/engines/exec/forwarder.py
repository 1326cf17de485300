"""The bridge from instance namespaces to the fakes: TCP listeners inside, splices outside.

One asyncio loop in one daemon thread of the harness serves every namespace. A listening
socket is created inside a namespace (`sim.engines.exec.netns.in_namespace`) and handed to
the loop, which runs in the host's namespace: each accepted connection is spliced to
``127.0.0.1:<target port>`` on the host, where the fakes (through their Toxiproxy proxies)
listen. Nothing else crosses: a namespace has no route out, only these listeners.

Why a forwarder rather than a veth pair: no addresses or routes on the host, no forwarding or
NAT rules to add and remember to remove, the fakes stay bound to the host's 127.0.0.1 only,
and exactly the listed ports are reachable from inside (a veth would expose every host
service listening on the address it reaches). What the forwarder adds is one user-space copy
per direction; tests/benchmarks/bench_netns.py measures it.

A connection the upstream resets is reset downstream too (SO_LINGER 0, then close), so a
Toxiproxy ``reset_peer`` toxic or the IMDS's ``connection_reset`` reaches the script as a
reset, as it would on a real network.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import defaultdict
from concurrent.futures import TimeoutError as FutureTimeout

from sim.engines.exec.netns import in_namespace
from sim.errors import RunFailed

__all__ = ["Forwarder"]

_LOOPBACK = "127.0.0.1"
_LINGER_RST = struct.pack("ii", 1, 0)


def _listening_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _reset(transport: asyncio.Transport) -> None:
    """Close with a TCP RST (SO_LINGER 0), as the peer that reset us did."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        except OSError:
            pass
    transport.abort()


class _Side(asyncio.Protocol):
    """One end of a spliced pair: what it receives, its peer's transport writes.

    Protocols, not streams: bytes go from one transport's callback straight into the other's
    write, with no reader task per direction (half the forwarder's CPU per request, measured
    by bench_netns). Flow control: when one side's write buffer fills, the other stops reading.
    Half-close is passed on (an HTTP client may send FIN and still read the answer); the pair
    closes once both directions have ended, and a reset on one side resets the other.
    """

    def __init__(self, conns: set, target_port: int | None, peer: "_Side | None" = None) -> None:
        self.conns = conns
        self.target_port = target_port  # set on the accepted (namespace) side only
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.eof = False
        self.peer_ready = peer is not None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.conns.add(transport)
        if self.target_port is not None:
            transport.pause_reading()  # nothing to write to until the upstream connects
            asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, up = await loop.create_connection(lambda: _Side(self.conns, None, self), _LOOPBACK,
                                                 self.target_port)
        except OSError:  # nothing listens there: the client sees its connection reset
            if self.transport is not None and not self.transport.is_closing():
                _reset(self.transport)
            return
        if self.transport is None or self.transport.is_closing():
            up.transport.close()
            return
        self.peer, self.peer_ready = up, True
        for data in self.pending:
            up.transport.write(data)
        self.pending.clear()
        if self.eof:
            up._send_eof()
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.peer_ready and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        if self.peer_ready:
            self.peer._send_eof()
        return True  # keep this side open: the answer may still be coming the other way

    def _send_eof(self) -> None:
        """Our peer's sender is done: pass the FIN on, and close both once both are done."""
        t = self.transport
        if t is None or t.is_closing():
            return
        if t.can_write_eof():
            t.write_eof()
        if self.eof and self.peer is not None and self.peer.eof:
            t.close()
            if self.peer.transport is not None:
                self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc) -> None:
        if self.transport is not None:
            self.conns.discard(self.transport)
        peer = self.peer
        if peer is None or peer.transport is None or peer.transport.is_closing():
            return
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            _reset(peer.transport)
        else:
            peer.transport.close()  # after what is buffered for it is written


class Forwarder:
    """Listeners grouped by namespace; `close` a group when its instance is done."""

    def __init__(self, start_timeout: float = 30.0) -> None:
        self.timeout = start_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: dict[str, list[asyncio.AbstractServer]] = defaultdict(list)
        self._conns: dict[str, set[asyncio.Transport]] = defaultdict(set)
        self.connections = 0  # accepted, over the forwarder's life

    def start(self) -> "Forwarder":
        ready = threading.Event()

        def run() -> None:
            loop = self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="bootstorm-forwarder", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def _call(self, coro):
        assert self.loop is not None, "Forwarder.start() first"
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise RunFailed(f"forwarder: no answer from its loop in {self.timeout:.0f}s") from None

    def listen(self, group: str, namespace: str, address: str, port: int, target_port: int) -> None:
        """Listen on ``address:port`` inside ``namespace``; splice to host 127.0.0.1:target_port."""
        sock = in_namespace(namespace, lambda: _listening_socket(address, port))
        try:
            self._call(self._serve(group, sock, target_port))
        except BaseException:
            sock.close()
            raise

    async def _serve(self, group: str, sock: socket.socket, target_port: int) -> None:
        conns = self._conns[group]

        def accepted() -> _Side:
            self.connections += 1
            return _Side(conns, target_port)

        server = await self.loop.create_server(accepted, sock=sock)
        self._servers[group].append(server)

    def close(self, group: str) -> None:
        """Stop listening for ``group`` and drop its open connections."""
        if self.loop is None or not self.loop.is_running():
            return
        self._call(self._close(group))

    async def _close(self, group: str) -> None:
        servers = self._servers.pop(group, [])
        for server in servers:
            server.close()
        for transport in list(self._conns.pop(group, ())):
            transport.abort()
        for server in servers:
            await server.wait_closed()

    def stop(self) -> None:
        """Close every group and end the loop's thread (idempotent)."""
        loop, self.loop = self.loop, None
        if loop is None or not loop.is_running():
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._close_all(), loop)
            future.result(self.timeout)
        except Exception:
            pass  # the sockets go with the thread's loop below either way
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(self.timeout)

    async def _close_all(self) -> None:
        for group in list(self._servers):
            await self._close(group)
