"""Proxies: a loopback listener forwarding each accepted client to the upstream, and the set of them.

This fake binds and dials loopback addresses only (127.0.0.0/8, ::1, ``localhost``); any other
listen or upstream host is refused with a 400 naming the address. An empty listen host means
127.0.0.1, and port 0 lets the OS choose; ``listen`` then reports the bound address, as upstream
does after it starts listening.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random

from fakes.toxiproxy._collection import ToxicCollection
from fakes.toxiproxy._conn import Connection
from fakes.toxiproxy._errors import ApiError, bad_body

__all__ = ["Proxy", "ProxyCollection", "parse_address", "format_address"]


def parse_address(text, field: str) -> tuple[str, int]:
    """``host:port`` -> (loopback ip, port); ApiError(400) naming ``field`` otherwise."""
    if not isinstance(text, str):
        raise bad_body(f"{field} must be a string, got {text!r}")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ApiError(f"{field} address {text!r} is not host:port", 400)
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        port = int(port_text)
    except ValueError:
        raise ApiError(f"{field} address {text!r} has no numeric port", 400) from None
    if not 0 <= port <= 65535:
        raise ApiError(f"{field} address {text!r}: port {port} is out of range 0-65535", 400)
    if host in ("", "localhost"):
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or not ip.is_loopback:
        raise ApiError(
            f"{field} address {text!r} is not a loopback address: this fake only uses "
            "127.0.0.0/8, ::1 or localhost",
            400,
        )
    return str(ip), port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random):
        self.name = name
        self.listen = listen or "127.0.0.1:0"
        self.upstream = upstream
        self.enabled = False
        self.rng = rng
        self.toxics = ToxicCollection()
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._opening: set[asyncio.Task] = set()

    def validate(self) -> None:
        parse_address(self.listen, "listen")
        parse_address(self.upstream, "upstream")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.toxics.to_json(),
        }

    async def start(self) -> None:
        if self._server is not None:
            return
        host, port = parse_address(self.listen, "listen")
        parse_address(self.upstream, "upstream")
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: Connection(self).client, host, port, reuse_address=True, backlog=512
            )
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ApiError(f"listen tcp {format_address(host, port)}: bind: {reason}", 500) from None
        self.listen = format_address(host, self._server.sockets[0].getsockname()[1])
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and close every live connection, as upstream's disable does."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close()
        self.enabled = False

    def accepted(self, conn: Connection) -> None:
        self.connections.add(conn)
        host, port = parse_address(self.upstream, "upstream")
        task = asyncio.get_running_loop().create_task(conn.open(host, port))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def update(self, body) -> None:
        if not isinstance(body, dict):
            raise bad_body(f"expected a JSON object, got {body!r}")
        listen = body.get("listen", self.listen)
        upstream = body.get("upstream", self.upstream)
        enabled = body.get("enabled", self.enabled)
        if not isinstance(enabled, bool):
            raise bad_body(f"enabled must be true or false, got {enabled!r}")
        if listen != self.listen or upstream != self.upstream:
            parse_address(listen, "listen")
            parse_address(upstream, "upstream")
            await self.stop()
            self.listen, self.upstream = listen, upstream
        if enabled and not self.enabled:
            await self.start()
        elif not enabled and self.enabled:
            await self.stop()


def proxy_from_json(body, rng: random.Random, where: str = "") -> tuple[Proxy, bool]:
    """A Proxy (not started) and whether it should be enabled, from an API body."""
    if not isinstance(body, dict):
        raise bad_body(f"expected a JSON object{where}, got {body!r}")
    for key in ("name", "upstream", "listen"):
        if key in body and not isinstance(body[key], str):
            raise bad_body(f"{key}{where} must be a string, got {body[key]!r}")
    enabled = body.get("enabled", True)
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise bad_body(f"enabled{where} must be true or false, got {enabled!r}")
    if not body.get("name"):
        raise ApiError(f"missing required field: name{where}", 400)
    if not body.get("upstream"):
        raise ApiError(f"missing required field: upstream{where}", 400)
    return Proxy(body["name"], body.get("listen", ""), body["upstream"], rng), enabled


class ProxyCollection:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError("proxy not found", 404) from None

    async def create(self, body) -> Proxy:
        proxy, enabled = proxy_from_json(body, self.rng)
        async with self.lock:
            if proxy.name in self.proxies:
                raise ApiError("proxy already exists", 409)
            proxy.validate()
            if enabled:
                await proxy.start()
            self.proxies[proxy.name] = proxy
        return proxy

    async def remove(self, name: str) -> None:
        async with self.lock:
            proxy = self.get(name)
            await proxy.stop()
            del self.proxies[name]

    async def populate(self, body) -> list[Proxy]:
        """Create or replace many proxies; all are validated before any changes (as upstream)."""
        if not isinstance(body, list):
            raise bad_body(f"expected a JSON array of proxies, got {body!r}")
        wanted: list[tuple[Proxy, bool]] = []
        for number, item in enumerate(body, start=1):
            proxy, enabled = proxy_from_json(item, self.rng, f" at proxy {number}")
            if any(p.name == proxy.name for p, _ in wanted):
                raise ApiError(f"duplicate proxy name {proxy.name!r}", 400)
            if enabled:
                proxy.validate()
            wanted.append((proxy, enabled))
        done: list[Proxy] = []
        async with self.lock:
            for proxy, enabled in wanted:
                existing = self.proxies.get(proxy.name)
                if existing is not None:
                    if existing.listen == proxy.listen and existing.upstream == proxy.upstream:
                        done.append(existing)
                        continue
                    await existing.stop()
                    del self.proxies[proxy.name]
                try:
                    if enabled:
                        await proxy.start()
                except ApiError as exc:
                    exc.proxies = done  # upstream reports the proxies populated before the error
                    raise
                self.proxies[proxy.name] = proxy
                done.append(proxy)
        return done

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        async with self.lock:
            for proxy in self.proxies.values():
                await proxy.start()
                await proxy.toxics.reset()

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()
