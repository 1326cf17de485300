"""How much the Toxiproxy-compatible fake costs: added round-trip latency and throughput.

Run on demand: ``python tests/benchmarks/bench_toxiproxy.py [--round-trips N] [--megabytes M]``.
One server process (this package's, not a binary on PATH); upstreams run on threads here:

- round trip: 64-byte request/echo pairs on one connection, direct to the echo upstream vs
  through a proxy with no toxic; the difference is what one proxy hop adds (target < 0.3 ms);
- throughput: a source upstream streams M MB; read direct, through a proxy with no toxic, and
  through a proxy with a 5 ms latency toxic downstream (target >= 100 MB/s).
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fakes.toxiproxy import start_toxiproxy, toxiproxy_client  # noqa: E402

BLOCK = 1 << 20


def serve(handler) -> int:
    """A loopback server running ``handler(conn)`` on a thread per connection; returns its port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def source(total: int):
    payload = memoryview(bytes(BLOCK))

    def handler(conn: socket.socket) -> None:
        with conn:
            sent = 0
            while sent < total:
                chunk = payload[: min(BLOCK, total - sent)]
                conn.sendall(chunk)
                sent += len(chunk)

    return handler


def address(listen: str) -> tuple[str, int]:
    host, port = listen.rsplit(":", 1)
    return host, int(port)


def round_trips(addr: tuple[str, int], count: int) -> list[float]:
    message = b"x" * 64
    buffer = bytearray(64)
    samples = []
    with socket.create_connection(addr) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count // 10):  # warm up
            sock.sendall(message)
            sock.recv_into(buffer)
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(message)
            got = 0
            while got < 64:
                got += sock.recv_into(memoryview(buffer)[got:])
            samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def throughput(addr: tuple[str, int], total: int) -> float:
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    got = 0
    started = time.perf_counter()
    with socket.create_connection(addr) as sock:
        while got < total:
            n = sock.recv_into(view)
            if not n:
                break
            got += n
    elapsed = time.perf_counter() - started
    if got != total:
        raise SystemExit(f"expected {total} bytes, got {got}")
    return total / elapsed / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=3000)
    parser.add_argument("--megabytes", type=int, default=512)
    args = parser.parse_args(argv)
    # Exit through the `finally` below on SIGTERM too, so the server process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    total = args.megabytes * 1_000_000
    echo_port = serve(echo)
    source_port = serve(source(total))
    rows = []
    server = start_toxiproxy(use_binary=False)  # already started: not a `with` (that would start it again)
    try:
        client = toxiproxy_client(server)
        echo_proxy = client.create(upstream=f"127.0.0.1:{echo_port}", name="echo")
        plain = client.create(upstream=f"127.0.0.1:{source_port}", name="plain")
        slow = client.create(upstream=f"127.0.0.1:{source_port}", name="slow")
        slow.add_toxic(type="latency", attributes={"latency": 5})

        direct = round_trips(("127.0.0.1", echo_port), args.round_trips)
        proxied = round_trips(address(echo_proxy.listen), args.round_trips)
        added = statistics.mean(proxied) - statistics.mean(direct)
        rows.append(("round trip direct (mean / p99 ms)", f"{statistics.mean(direct):.3f} / {p99(direct):.3f}", ""))
        rows.append(("round trip via proxy (mean / p99 ms)", f"{statistics.mean(proxied):.3f} / {p99(proxied):.3f}", ""))
        rows.append(("added per proxy hop (mean ms)", f"{added:.3f}", verdict(added < 0.3, "< 0.3")))

        rows.append(("throughput direct (MB/s)", f"{throughput(('127.0.0.1', source_port), total):.0f}", ""))
        rows.append(("throughput via proxy (MB/s)", f"{throughput(address(plain.listen), total):.0f}", ""))
        latency_rate = throughput(address(slow.listen), total)
        rows.append(("throughput via 5 ms latency toxic (MB/s)", f"{latency_rate:.0f}", verdict(latency_rate >= 100, ">= 100")))
    finally:
        server.stop()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>16}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>16}  {target}")
    return 0


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.99) - 1]


def verdict(ok: bool, target: str) -> str:
    return f"{target} {'ok' if ok else 'MISSED'}"


if __name__ == "__main__":
    sys.exit(main())
