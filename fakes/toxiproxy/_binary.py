"""Run a real ``toxiproxy-server`` binary under the fakes' ready-line convention.

The Go server prints no ``{"ready": true, ...}`` line and cannot take port 0, so this small
wrapper is what ServerProcess starts: it picks the port, runs the binary on 127.0.0.1, polls
until the API accepts connections, prints the ready line and passes SIGTERM/SIGINT on.
``python -m fakes.toxiproxy._binary --binary PATH [--port N]``.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys

from fakes._proc import free_port, wait_for_port
from sim.errors import FakeFailed

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.toxiproxy._binary")
    parser.add_argument("--binary", required=True, help="path of toxiproxy-server")
    parser.add_argument("--port", type=int, default=0, help="API port; 0 picks a free one")
    args = parser.parse_args(argv)
    port = args.port or free_port()
    # The binary's own log goes to stderr so that stdout carries only the ready line.
    child = subprocess.Popen(
        [args.binary, "-host", "127.0.0.1", "-port", str(port)], stdout=sys.stderr, stdin=subprocess.DEVNULL
    )
    stopping = False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        wait_for_port(port, timeout=30.0)
    except FakeFailed as exc:
        child.kill()
        child.wait()
        print(f"toxiproxy: {args.binary} did not start: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"ready": True, "port": port, "name": "toxiproxy", "binary": args.binary}), flush=True)
    code = child.wait()
    return 0 if stopping else code


if __name__ == "__main__":
    sys.exit(main())
