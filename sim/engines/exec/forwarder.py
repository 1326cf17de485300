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
Toxiproxy ``reset_peer`` toxic reaches the script as a reset, as it would on a real network.
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

_CHUNK = 65536
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


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        except OSError:
            pass
    writer.transport.abort()


class Forwarder:
    """Listeners grouped by namespace; `close` a group when its instance is done."""

    def __init__(self, start_timeout: float = 30.0) -> None:
        self.timeout = start_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: dict[str, list[asyncio.AbstractServer]] = defaultdict(list)
        self._conns: dict[str, set[asyncio.StreamWriter]] = defaultdict(set)
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
        async def handle(reader, writer):
            await self._splice(group, reader, writer, target_port)

        server = await asyncio.start_server(handle, sock=sock, limit=_CHUNK)
        self._servers[group].append(server)

    async def _splice(self, group, reader, writer, target_port) -> None:
        self.connections += 1
        conns = self._conns[group]
        conns.add(writer)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(_LOOPBACK, target_port, limit=_CHUNK)
            except OSError:  # nothing listens: the script sees a refused/reset connection
                _reset(writer)
                return
            conns.add(up_writer)
            try:
                await asyncio.gather(self._pipe(reader, up_writer, writer),
                                     self._pipe(up_reader, writer, up_writer))
            finally:
                conns.discard(up_writer)
                up_writer.close()
        finally:
            conns.discard(writer)
            writer.close()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, src_writer) -> None:
        try:
            while True:
                data = await src.read(_CHUNK)
                if not data:
                    break
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof() and not dst.is_closing():
                dst.write_eof()  # half-close: an HTTP client may still be reading the answer
        except (ConnectionResetError, BrokenPipeError):
            _reset(dst)  # the peer reset: so does the other side
            _reset(src_writer)
        except (ConnectionError, OSError, RuntimeError):
            dst.transport.abort()

    def close(self, group: str) -> None:
        """Stop listening for ``group`` and drop its open connections."""
        if self.loop is None or not self.loop.is_running():
            return
        self._call(self._close(group))

    async def _close(self, group: str) -> None:
        servers = self._servers.pop(group, [])
        for server in servers:
            server.close()
        for writer in list(self._conns.pop(group, ())):
            writer.transport.abort()
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
