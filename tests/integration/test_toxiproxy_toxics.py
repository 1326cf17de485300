"""Each toxic's measurable effect on real connections through the proxy to an echo upstream.

Timings use generous margins (the machine may be loaded): lower bounds are the toxic's own
delay, upper bounds leave seconds of slack.
"""

from __future__ import annotations

import random
import selectors
import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _toxiproxy_fixtures import (  # noqa: F401
    connect,
    echo_port,
    echo_proxy,
    echo_server,
    pattern,
    recv_exactly,
    recv_until_closed,
    toxiproxy,
    toxiproxy_server,
)
from fakes.toxiproxy._toxics import slice_offsets

pytestmark = pytest.mark.integration


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    started = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - started


def test_latency_delays_each_round_trip(echo_proxy):
    with connect(echo_proxy) as sock:
        assert round_trip(sock) < 0.25
        echo_proxy.add_toxic(type="latency", attributes={"latency": 300})
        assert 0.29 <= round_trip(sock) < 3.0
        echo_proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 200})
        assert 0.49 <= round_trip(sock) < 3.5  # latencies on both streams add up


def test_latency_is_pipelined_not_serialised(echo_proxy):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 600})
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"first")
        time.sleep(0.1)  # spacing between the two writes, part of the experiment
        sock.sendall(b"second")
        assert recv_exactly(sock, 5) == b"first"
        assert recv_exactly(sock, 6) == b"second"
        elapsed = time.monotonic() - started
    # Each chunk leaves 600 ms after it arrived (~0.7 s); a serial delay would take >= 1.2 s.
    assert 0.65 <= elapsed < 1.1


def test_latency_jitter_stays_within_bounds(echo_proxy):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 50})
    with connect(echo_proxy) as sock:
        samples = [round_trip(sock) for _ in range(8)]
    assert min(samples) >= 0.045
    assert max(samples) < 2.0


def test_bandwidth_limits_the_rate(echo_proxy):
    echo_proxy.add_toxic(type="bandwidth", attributes={"rate": 200})  # 200 KB/s
    data = pattern(100_000)
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.sendall(data)
        assert recv_exactly(sock, len(data)) == data
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0  # 0.5 s at 200 KB/s


def test_bandwidth_zero_stalls_until_removed_without_loss(echo_proxy):
    echo_proxy.add_toxic(type="bandwidth", name="choke", attributes={"rate": 0})
    with connect(echo_proxy) as sock:
        sock.sendall(b"held back")
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(100)
        echo_proxy.destroy_toxic("choke")
        assert recv_exactly(sock, 9) == b"held back"


def test_slow_close_delays_the_close(echo_proxy):
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_closed(sock) == b""
        assert time.monotonic() - started < 0.4
    echo_proxy.add_toxic(type="slow_close", attributes={"delay": 500})
    with connect(echo_proxy) as sock:
        assert round_trip(sock, b"bye") < 2.0
        started = time.monotonic()
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_closed(sock) == b""
        assert 0.45 <= time.monotonic() - started < 3.0


def test_timeout_drops_data_then_closes(echo_proxy):
    echo_proxy.add_toxic(type="timeout", attributes={"timeout": 300})
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"lost")
        assert recv_until_closed(sock) == b""  # nothing gets through, then the close
        assert 0.25 <= time.monotonic() - started < 3.0


def test_timeout_rearms_while_data_keeps_arriving(echo_proxy):
    # Upstream restarts its timer on every chunk it swallows.
    echo_proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 600})
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        for _ in range(10):
            sock.sendall(b"x")
            time.sleep(0.1)  # spacing between writes, part of the experiment
        sock.settimeout(0.05)
        with pytest.raises(socket.timeout):  # still open at 1 s, past the 0.6 s timeout
            sock.recv(1)
        assert recv_until_closed(sock) == b""
        assert time.monotonic() - started >= 1.0 + 0.5


def test_timeout_zero_holds_and_removing_it_closes(echo_proxy):
    echo_proxy.add_toxic(type="timeout", name="hold", attributes={"timeout": 0})
    with connect(echo_proxy) as sock:
        sock.sendall(b"dropped")
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(100)
        echo_proxy.destroy_toxic("hold")
        assert recv_until_closed(sock) == b""


def test_reset_peer_gives_econnreset(echo_proxy):
    echo_proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with connect(echo_proxy) as sock:
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            recv_until_closed(sock)


def test_reset_peer_waits_its_timeout(echo_proxy):
    echo_proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 300})
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            recv_until_closed(sock)
        assert 0.28 <= time.monotonic() - started < 3.0


def test_limit_data_closes_after_n_bytes(echo_proxy):
    echo_proxy.add_toxic(type="limit_data", attributes={"bytes": 1000})
    data = pattern(5000)
    with connect(echo_proxy) as sock:
        sock.sendall(data)
        assert recv_until_closed(sock) == data[:1000]


def test_slicer_preserves_bytes_and_slices_them(echo_proxy):
    echo_proxy.add_toxic(type="slicer", attributes={"average_size": 64, "size_variation": 16, "delay": 1000})
    data = pattern(20_000)
    with connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.sendall(data)
        assert recv_exactly(sock, len(data)) == data
        # ~300 slices, each followed by 1 ms: the stream is visibly cut up.
        assert time.monotonic() - started >= 0.2


def test_toxicity_zero_and_one(echo_proxy):
    echo_proxy.add_toxic(type="latency", name="never", toxicity=0.0, attributes={"latency": 500})
    with connect(echo_proxy) as sock:
        assert round_trip(sock) < 0.3
    echo_proxy.destroy_toxic("never")
    echo_proxy.add_toxic(type="latency", name="always", toxicity=1.0, attributes={"latency": 500})
    with connect(echo_proxy) as sock:
        assert 0.49 <= round_trip(sock) < 3.0


def test_toxicity_is_decided_per_connection(echo_proxy):
    echo_proxy.add_toxic(type="latency", toxicity=0.5, attributes={"latency": 500})
    socks = [connect(echo_proxy) for _ in range(16)]
    arrivals: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        try:
            for sock in socks:
                selector.register(sock, selectors.EVENT_READ)
            started = time.monotonic()
            for sock in socks:
                sock.sendall(b"?")
            while len(arrivals) < len(socks) and time.monotonic() - started < 20:
                for key, _ in selector.select(timeout=1.0):
                    assert key.fileobj.recv(1) == b"?"
                    arrivals[key.fileobj] = time.monotonic() - started
                    selector.unregister(key.fileobj)
        finally:
            for sock in socks:
                sock.close()
    assert len(arrivals) == len(socks)
    fast = sum(1 for t in arrivals.values() if t < 0.3)
    slow = sum(1 for t in arrivals.values() if t >= 0.49)
    # Each connection is either untouched or delayed, and both kinds appear (p(all alike) ~ 3e-5).
    assert fast + slow == len(socks)
    assert fast > 0 and slow > 0


@given(size=st.integers(0, 5000), average=st.integers(0, 300), variation=st.integers(0, 100), seed=st.integers(0, 99))
def test_slice_offsets_cover_the_chunk_in_order(size, average, variation, seed):
    cuts = slice_offsets(size, average, variation, random.Random(seed))
    assert cuts[0] == 0 and cuts[-1] == size
    assert all(a < b for a, b in zip(cuts, cuts[1:])) or size == 0
    if average > 0 and size > average + variation:
        assert max(b - a for a, b in zip(cuts, cuts[1:])) <= average + variation
