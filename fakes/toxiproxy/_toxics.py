"""The toxic types: their attributes and how each one moves data through a stage.

Each type is a coroutine ``pipe(stage, attrs)`` that takes chunks from ``stage.get()`` and hands
them on with ``stage.emit()``, as upstream Toxiproxy's ``Pipe(stub)`` does. A chunk is a pair
``(timestamp, payload)``: the payload is bytes or a :class:`Close` that ends the stream.

A pipe may be interrupted at any await (its toxic was updated or removed). Whatever it had taken
but not yet emitted lives in ``stage.held``, which the stage flushes downstream on interrupt, so
live changes never lose or reorder bytes; only toxics that drop data by design drop it.
Units follow upstream: milliseconds, except the slicer's delay (microseconds); bandwidth rate is
in KB/s with 1 KB = 1000 bytes.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

__all__ = ["Close", "Toxic", "TOXIC_TYPES", "ToxicType", "noop", "slice_offsets"]


@dataclass(frozen=True)
class Close:
    """End of a stream. ``reset`` closes both sockets with a TCP RST instead of a FIN."""

    reset: bool = False


@dataclass(frozen=True)
class ToxicType:
    name: str
    defaults: dict[str, int]
    pipe: Callable[[Any, dict], Awaitable[None]]
    # Upstream's timeout toxic closes the links it sits on when it is removed.
    closes_on_remove: bool = False


@dataclass
class Toxic:
    """One toxic as the API sees it; links run it through a stage per connection."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> ToxicType:
        return TOXIC_TYPES[self.type]

    def to_json(self) -> dict:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


async def noop(stage, attrs: dict) -> None:
    while True:
        item = await stage.get()
        if isinstance(item[1], Close):
            stage.finish(item[1])
            return
        stage.emit(item)


def _delay_ms(attrs: dict, rng: random.Random) -> float:
    delay = attrs["latency"]
    jitter = attrs["jitter"]
    if jitter > 0:
        delay += rng.randrange(jitter * 2) - jitter
    return delay


async def latency(stage, attrs: dict) -> None:
    # Each chunk leaves `delay` after it was read, so data keeps flowing in behind a delayed chunk
    # (pipelined, like upstream's buffered latency stub), and order is kept even with jitter.
    loop = asyncio.get_running_loop()
    while True:
        stamp, payload = await stage.get()
        if isinstance(payload, Close):
            stage.finish(payload)
            return
        due = stamp + _delay_ms(attrs, stage.rng) / 1000.0
        stage.held = [(stamp, payload)]
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        stage.held = []
        stage.emit((max(due, stamp), payload))


async def bandwidth(stage, attrs: dict) -> None:
    loop = asyncio.get_running_loop()
    rate = attrs["rate"]  # bytes per millisecond
    owed = 0.0  # seconds of sending still owed, carried over so sleep granularity does not add up
    while True:
        stamp, payload = await stage.get()
        if isinstance(payload, Close):
            stage.finish(payload)
            return
        stage.held = [(stamp, payload)]
        if rate <= 0:
            await asyncio.Future()  # a rate of 0 stalls the stream until the toxic changes
        owed += len(payload) / (rate * 1000.0)
        step = rate * 100  # what may pass in 100 ms
        view = memoryview(payload)
        while len(view) > step:
            await asyncio.sleep(0.1)
            stage.emit((stamp, bytes(view[:step])))
            view = view[step:]
            stage.held = [(stamp, bytes(view))]
            owed -= 0.1
        started = loop.time()
        if owed > 0:
            await asyncio.sleep(owed)
        owed -= loop.time() - started
        stage.held = []
        stage.emit((stamp, bytes(view) if len(view) != len(payload) else payload))


async def slow_close(stage, attrs: dict) -> None:
    while True:
        item = await stage.get()
        if isinstance(item[1], Close):
            stage.held = [item]
            await asyncio.sleep(attrs["delay"] / 1000.0)
            stage.held = []
            stage.finish(item[1])
            return
        stage.emit(item)


async def timeout(stage, attrs: dict) -> None:
    # Upstream re-arms its timer on every chunk it swallows: the link closes after `timeout` ms
    # without data (0 = never), and data is dropped meanwhile.
    limit = attrs["timeout"] / 1000.0
    while True:
        try:
            async with asyncio.timeout(limit if limit > 0 else None):
                item = await stage.get()
        except TimeoutError:
            stage.finish(Close())
            return
        if isinstance(item[1], Close):
            stage.finish(item[1])
            return
        stage.drop(item)


async def reset_peer(stage, attrs: dict) -> None:
    # Upstream waits for the first chunk (or the end of the stream), drops it, waits `timeout` ms,
    # then resets the connection.
    item = await stage.get()
    stage.drop(item)
    await asyncio.sleep(attrs["timeout"] / 1000.0)
    stage.finish(Close(reset=True))


def slice_offsets(size: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Cut points splitting ``size`` bytes into pieces of about ``average`` +/- ``variation``."""
    if average <= 0 or size <= average + variation:
        return [0, size]
    cuts: list[int] = []
    todo = [(0, size)]
    while todo:
        start, end = todo.pop()
        if (end - start) - average <= variation:
            cuts.append(end)
            continue
        mid = start + (end - start) // 2
        if variation > 0:
            mid += rng.randrange(variation * 2) - variation
        mid = min(max(mid, start + 1), end - 1)
        todo.append((mid, end))
        todo.append((start, mid))
    return [0, *cuts]


async def slicer(stage, attrs: dict) -> None:
    delay = attrs["delay"] / 1_000_000.0
    while True:
        stamp, payload = await stage.get()
        if isinstance(payload, Close):
            stage.finish(payload)
            return
        cuts = slice_offsets(len(payload), attrs["average_size"], attrs["size_variation"], stage.rng)
        for begin, end in zip(cuts, cuts[1:]):
            stage.emit((stamp, payload[begin:end]))
            rest = payload[end:]
            stage.held = [(stamp, rest)] if rest else []
            await asyncio.sleep(delay)
        stage.held = []


async def limit_data(stage, attrs: dict) -> None:
    # Bytes passed are counted per link and survive updates of the toxic, as upstream's state does.
    limit = attrs["bytes"]
    while True:
        stamp, payload = await stage.get()
        if isinstance(payload, Close):
            stage.finish(payload)
            return
        remaining = max(limit - stage.state.get("sent", 0), 0)
        if remaining < len(payload):
            stage.drop((stamp, payload[remaining:]))
            payload = payload[:remaining]
        if payload:
            stage.emit((stamp, payload))
            stage.state["sent"] = stage.state.get("sent", 0) + len(payload)
        if limit - stage.state.get("sent", 0) <= 0:
            stage.finish(Close())
            return


TOXIC_TYPES: dict[str, ToxicType] = {
    t.name: t
    for t in [
        ToxicType("latency", {"latency": 0, "jitter": 0}, latency),
        ToxicType("bandwidth", {"rate": 0}, bandwidth),
        ToxicType("slow_close", {"delay": 0}, slow_close),
        ToxicType("timeout", {"timeout": 0}, timeout, closes_on_remove=True),
        ToxicType("reset_peer", {"timeout": 0}, reset_peer),
        ToxicType("slicer", {"average_size": 0, "size_variation": 0, "delay": 0}, slicer),
        ToxicType("limit_data", {"bytes": 0}, limit_data),
        ToxicType("noop", {}, noop),  # upstream registers a pass-through type too
    ]
}
