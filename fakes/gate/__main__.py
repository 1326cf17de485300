"""``python -m fakes.gate --upstream URL --port 0``: run the AWS API gate in front of moto.

Prints the ready line ``{"ready": true, "port": N, "name": "gate"}`` once it accepts
connections (the ``fakes._proc`` convention) and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from fakes.gate.requestlog import DEFAULT_CAPACITY
from fakes.gate.server import GateState, serve


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fakes.gate", description="Run the AWS API gate in front of moto.")
    parser.add_argument("--upstream", required=True, help="moto's base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS pick a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the error_rate draws")
    parser.add_argument("--log-capacity", type=int, default=DEFAULT_CAPACITY, help="request log entries kept")
    parser.add_argument("--no-verify-signatures", dest="verify", action="store_false",
                        help="forward requests without checking their SigV4 signature (expiry still applies); "
                             "by default the gate refuses what AWS refuses")
    args = parser.parse_args(argv)
    if not args.upstream.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error(f"--upstream must be a loopback http URL, got {args.upstream!r}")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error(f"--host must be a loopback address (127.0.0.1, localhost, ::1), got {args.host!r}")
    if args.log_capacity < 1:
        parser.error(f"--log-capacity must be >= 1, got {args.log_capacity}")
    return args


async def _main(args: argparse.Namespace) -> None:
    def ready(port: int) -> None:
        sys.stdout.write(json.dumps({"ready": True, "port": port, "name": "gate"}) + "\n")
        sys.stdout.flush()

    task = asyncio.ensure_future(serve(GateState(args.upstream, args.seed, args.log_capacity, args.verify), args.host, args.port, ready))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_main(_parse(argv)))


if __name__ == "__main__":
    main()
