"""``python -m fakes.sinks --port 0``: the registry and telemetry sinks on 127.0.0.1.

Prints ``{"ready": true, "port": N, "name": "sinks"}`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from fakes._serve import serve_until_signal
from fakes.sinks.server import build_app


async def _serve(port: int) -> None:
    await serve_until_signal(build_app(), port, "sinks")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.sinks", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
