"""``python -m fakes.toxiproxy``: run the server the way ``toxiproxy-server`` runs.

Options mirror upstream's (``-host``, ``-port``, ``-config``, ``-seed``; ``--`` forms too). Once
the API accepts connections it prints one JSON line on stdout, ``{"ready": true, "port": N,
"name": "toxiproxy"}`` (the convention of ``fakes._proc``). SIGTERM or SIGINT close the
listeners and every proxied connection, and the process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import random
import signal
import socket
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fakes.toxiproxy",
        description="Toxiproxy-compatible proxy server (HTTP API + toxics), loopback only.",
    )
    parser.add_argument("--host", "-host", default="127.0.0.1", help="API address (loopback only)")
    parser.add_argument("--port", "-port", type=int, default=8474, help="API port; 0 lets the OS pick")
    parser.add_argument("--config", "-config", help="JSON file of proxies to create at start")
    parser.add_argument("--seed", "-seed", type=int, help="seed for toxicity and jitter draws")
    return parser


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is None or not ip.is_loopback:
        raise ValueError(
            f"--host must be a loopback address (127.0.0.0/8, ::1 or localhost), got {host!r}: "
            "this fake never listens on other interfaces"
        )
    return str(ip)


async def _serve(host: str, port: int, config: str | None, seed: int | None) -> int:
    from aiohttp import web

    from fakes.toxiproxy._api import COLLECTION_KEY, make_app
    from fakes.toxiproxy._errors import ApiError

    app = make_app(random.Random(seed))
    collection = app[COLLECTION_KEY]
    if config:
        try:
            with open(config, encoding="utf-8") as handle:
                await collection.populate(json.load(handle))
        except (OSError, ValueError, ApiError) as exc:
            print(f"toxiproxy: cannot populate proxies from {config}: {exc}", file=sys.stderr)
            await collection.close()
            return 1
    try:
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError as exc:
        print(f"toxiproxy: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        await collection.close()
        return 1
    bound = listener.getsockname()[1]
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(json.dumps({"ready": True, "port": bound, "name": "toxiproxy"}), flush=True)
    await stop.wait()
    await collection.close()
    await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        host = _loopback_host(args.host)
    except ValueError as exc:
        print(f"toxiproxy: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"toxiproxy: --port must be 0-65535, got {args.port}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(host, args.port, args.config, args.seed))
