"""One proxied connection: the client socket, the upstream socket and the two links between them.

Like upstream Toxiproxy, when a link's stream ends its destination socket is closed outright
(not half-closed); the link reading from that socket then sees its own stream end, and its
toxics (slow_close, say) decide when the other socket closes. A reset closes both sockets with
SO_LINGER 0, so peers get a TCP RST (ECONNRESET).
"""

from __future__ import annotations

import asyncio
import socket
import struct

from fakes.toxiproxy._link import Link

__all__ = ["Connection"]

CONNECT_TIMEOUT = 10.0


class _Endpoint(asyncio.Protocol):
    """asyncio protocol for one socket of a connection."""

    def __init__(self, conn: "Connection"):
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.reading: Link | None = None  # the link whose source is this socket
        self.writing: Link | None = None  # the link whose destination is this socket
        self.lost = False

    # The link calls these on its source and destination.
    def write(self, data: bytes) -> None:
        if not self.lost:
            self.transport.write(data)

    def pause_reading(self) -> None:
        if not self.lost:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.lost:
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # flushes what is still buffered, then closes

    def reset(self) -> None:
        if self.transport is None or self.lost:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport
        # Hold the bytes in the kernel until both links are wired (Connection.open resumes).
        transport.pause_reading()
        if self is self.conn.client:
            self.conn.proxy.accepted(self.conn)

    def data_received(self, data: bytes) -> None:
        self.reading.push(data)

    def eof_received(self) -> bool:
        if self.reading is not None:
            self.reading.push_eof()
        return True  # keep the socket open: the other link may still write to it

    def connection_lost(self, exc) -> None:
        self.lost = True
        if self.writing is not None:
            self.writing.finished = True
        if self.reading is not None:
            self.reading.push_eof()
        self.conn.endpoint_lost()

    def pause_writing(self) -> None:
        if self.writing is not None:
            self.writing.set_dest_paused(True)

    def resume_writing(self) -> None:
        if self.writing is not None:
            self.writing.set_dest_paused(False)


class Connection:
    """A client accepted by a proxy, joined to a fresh connection to the upstream."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.client = _Endpoint(self)
        self.server = _Endpoint(self)
        self.links: dict[str, Link] = {}
        self.closed = False

    def client_factory(self) -> _Endpoint:
        return self.client

    async def open(self, host: str, port: int) -> None:
        """Connect upstream, then start both links; on failure close the client, as upstream does."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: self.server, host, port), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            self.client.close()
            self._forget()
            return
        if self.client.lost or self.closed:
            self.server.close()
            self.client.close()
            self._forget()
            return
        up = Link(self, "upstream", source=self.client, dest=self.server, rng=self.proxy.rng)
        down = Link(self, "downstream", source=self.server, dest=self.client, rng=self.proxy.rng)
        self.client.reading = self.server.writing = up
        self.server.reading = self.client.writing = down
        self.links = {"upstream": up, "downstream": down}
        self.proxy.toxics.attach(up)
        self.proxy.toxics.attach(down)
        self.client.transport.resume_reading()
        self.server.transport.resume_reading()

    def link_finished(self, link: Link, reset: bool) -> None:
        if reset:
            self.client.reset()
            self.server.reset()
            return
        link.dest.close()
        # The closed socket is also the source of the other link: its stream ends too.
        other = self.links["downstream" if link.direction == "upstream" else "upstream"]
        other.push_eof()

    def close(self) -> None:
        """Tear down now (proxy disabled or deleted)."""
        self.closed = True
        for link in self.links.values():
            link.kill()
        for endpoint in (self.client, self.server):
            if endpoint.transport is not None and not endpoint.lost:
                if endpoint.transport.get_write_buffer_size():
                    endpoint.transport.abort()
                else:
                    endpoint.transport.close()

    def endpoint_lost(self) -> None:
        if self.client.lost and (self.server.lost or self.server.transport is None):
            self._forget()

    def _forget(self) -> None:
        for link in self.links.values():
            link.kill()
            self.proxy.toxics.detach(link)
        self.proxy.connections.discard(self)
