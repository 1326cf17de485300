"""Serve an aiohttp app on 127.0.0.1 until SIGTERM/SIGINT, announcing readiness the fakes' way.

The ready line (``{"ready": true, "port": N, "name": ...}``) is what ``fakes._proc``
waits for; it is printed only once the socket accepts connections.
"""

from __future__ import annotations

import asyncio
import json
import signal

from aiohttp import web

__all__ = ["serve_until_signal"]


async def serve_until_signal(app: web.Application, port: int, name: str, **ready_extra) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"ready": True, "port": bound, "name": name, **ready_extra}), flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
