"""Per-instance root listeners: one extra socket per instance, serving it as 169.254.169.254 does.

An instance added with ``listener: true`` gets its own listening socket on 127.0.0.1 (a port
the OS chooses). On that socket the ROOT paths (``/``, ``/latest/...``, ``/latest/api/token``)
answer for that one instance, with no ``/<instance-id>/`` prefix, so a network namespace can
forward its 169.254.169.254:80 there and an unmodified script sees EC2's layout. The control
API is not served on these sockets: software under test cannot reset the fakes.

All listeners share one aiohttp runner over a small app (the metadata handler only); the
handler tells instances apart by the local port a request arrived on.
"""

from __future__ import annotations

import socket

from aiohttp import web

__all__ = ["Listeners", "LISTENER_APP_KEY"]

# Set on the listener app: "this request came in on a per-instance socket".
LISTENER_APP_KEY = web.AppKey("imds_listener_app", bool)


class Listeners:
    """Opens and closes the per-instance sockets so they match ``state`` (see `sync`)."""

    def __init__(self, state, executor_key, state_key, handler):
        self._state = state
        self._keys = (state_key, executor_key)
        self._handler = handler
        self._runner: web.AppRunner | None = None
        self._sites: dict[str, web.SockSite] = {}

    async def _ensure_runner(self, parent: web.Application) -> web.AppRunner:
        if self._runner is None:
            app = web.Application()
            state_key, executor_key = self._keys
            app[state_key] = parent[state_key]
            app[executor_key] = parent[executor_key]
            app[LISTENER_APP_KEY] = True
            app.router.add_route("*", "/{tail:.*}", self._handler)
            # A short grace on shutdown: held (partitioned) requests are cancelled anyway.
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
            await self._runner.setup()
        return self._runner

    async def sync(self, parent: web.Application) -> None:
        """Open a socket for every instance that wants one; close those of removed instances.
        Costs O(listeners), not O(instances): a fleet is added one instance at a time."""
        wanted = self._state.wanted_listeners
        for iid in [i for i in self._sites if i not in wanted]:
            await self._close(iid)
        for iid in [i for i in wanted if i not in self._sites]:
            await self._open(parent, iid)

    async def _open(self, parent: web.Application, iid: str) -> None:
        runner = await self._ensure_runner(parent)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock, backlog=256)
        await site.start()
        port = sock.getsockname()[1]
        self._sites[iid] = site
        self._state.bind_listener(iid, port)

    async def _close(self, iid: str) -> None:
        site = self._sites.pop(iid)
        port = self._state.unbind_listener(iid)
        await site.stop()
        # Idle keep-alive connections accepted on that socket outlive the listening socket;
        # close them too, as a removed instance is gone.
        server = self._runner.server if self._runner is not None else None
        for proto in list(getattr(server, "connections", []) or []):
            transport = getattr(proto, "transport", None)
            if transport is not None and _local_port(transport) == port:
                transport.close()

    async def close_all(self) -> None:
        for iid in list(self._sites):
            await self._close(iid)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _local_port(transport) -> int | None:
    sockname = transport.get_extra_info("sockname")
    return sockname[1] if sockname else None
