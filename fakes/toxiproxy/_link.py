"""One direction of one proxied connection: source socket -> toxic stages -> destination socket.

With no toxic, bytes read from the source are written to the destination in the same callback
(the fast path). Each toxic adds a stage: a task reading an unbounded FIFO and writing into the
next stage's FIFO or into the sink. Backpressure is counted per link: bytes read but not yet
written; over HIGH_WATER the source stops being read, as upstream's bounded channels do.

Stages are spliced in and out of a live link without losing or reordering bytes: a new stage is
appended behind the last one (in an event loop nothing moves between two statements), and a
removed stage is first interrupted, then what it held and what was queued for it are handed on,
in order, before its neighbours are joined.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque

from fakes.toxiproxy._toxics import Close, Toxic, noop

__all__ = ["Link", "Stage", "HIGH_WATER", "LOW_WATER"]

HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024

log = logging.getLogger("fakes.toxiproxy")


class Channel:
    """Unbounded FIFO of chunks feeding one stage."""

    __slots__ = ("items", "waiter", "link", "discarding")

    def __init__(self, link: "Link"):
        self.items: deque = deque()
        self.waiter: asyncio.Future | None = None
        self.link = link
        self.discarding = False

    def put(self, item) -> None:
        if self.discarding:
            self.link.consumed(item)
            return
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self):
        # Nothing is taken off the queue until the await returns, so a cancelled get loses nothing.
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()

    def discard(self) -> None:
        self.discarding = True
        while self.items:
            self.link.consumed(self.items.popleft())


class Sink:
    """The end of a link: hands chunks to the destination socket."""

    __slots__ = ("link",)

    def __init__(self, link: "Link"):
        self.link = link

    def put(self, item) -> None:
        self.link.deliver(item)


class Stage:
    """One toxic running on one link."""

    def __init__(self, link: "Link", toxic: Toxic):
        self.link = link
        self.toxic = toxic
        self.rng: random.Random = link.rng
        self.input = Channel(link)
        self.output: Channel | Sink = link.sink
        self.held: list = []
        self.state: dict = {}
        self.closed = False
        self.active = False
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        # Toxicity is rolled each time the toxic starts on a link (created, added, updated).
        self.active = self.rng.random() < self.toxic.toxicity
        pipe = self.toxic.kind.pipe if self.active else noop
        self.task = asyncio.get_running_loop().create_task(self._run(pipe, dict(self.toxic.attributes)))

    async def _run(self, pipe, attrs: dict) -> None:
        try:
            await pipe(self, attrs)
        except asyncio.CancelledError:
            pass  # interrupted: interrupt() hands on what was held
        except Exception:  # a broken toxic must not leave the connection hanging
            log.exception("toxic %s failed; closing its link", self.toxic.name)
            self.finish(Close())

    def get(self):
        return self.input.get()

    def emit(self, item) -> None:
        self.output.put(item)

    def drop(self, item) -> None:
        self.link.consumed(item)

    def finish(self, close: Close) -> None:
        """End the stream here: pass the close on and swallow whatever still arrives."""
        if self.closed:
            return
        self.closed = True
        for item in self.held:
            self.link.consumed(item)
        self.held = []
        self.output.put((asyncio.get_running_loop().time(), close))
        self.input.discard()

    async def interrupt(self) -> None:
        """Stop the running pipe and hand on, in order, what it had taken but not yet passed."""
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        held, self.held = self.held, []
        for item in held:
            if self.closed:
                self.link.consumed(item)
            else:
                self.output.put(item)

    def kill(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


class Link:
    """Bytes from ``source`` to ``dest`` (two socket endpoints of a Connection)."""

    def __init__(self, conn, direction: str, source, dest, rng: random.Random):
        self.conn = conn
        self.direction = direction
        self.source = source
        self.dest = dest
        self.rng = rng
        self.sink = Sink(self)
        self.stages: list[Stage] = []
        self.head: Channel | None = None  # first stage's input; None: straight to the sink
        self.buffered = 0
        self.source_paused = False
        self.dest_paused = False
        self.ended = False  # the source stream ended
        self.finished = False  # the sink saw the end
        self.loop = asyncio.get_running_loop()

    # -- data from the source socket -------------------------------------------------------

    def push(self, data: bytes) -> None:
        if self.ended:
            return
        head = self.head
        if head is None:
            if not self.finished:
                self.dest.write(data)
            return
        self.buffered += len(data)
        head.put((self.loop.time(), data))
        if self.buffered > HIGH_WATER and not self.source_paused:
            self.source_paused = True
            self.source.pause_reading()

    def push_eof(self) -> None:
        if self.ended:
            return
        self.ended = True
        item = (self.loop.time(), Close())
        if self.head is None:
            self.deliver(item)
        else:
            self.head.put(item)

    # -- the sink ----------------------------------------------------------------------------

    def deliver(self, item) -> None:
        payload = item[1]
        if isinstance(payload, Close):
            if not self.finished:
                self.finished = True
                self.conn.link_finished(self, payload.reset)
            return
        self.buffered -= len(payload)
        if not self.finished:
            self.dest.write(payload)
        self._maybe_resume()

    def consumed(self, item) -> None:
        payload = item[1]
        if not isinstance(payload, Close):
            self.buffered -= len(payload)
            self._maybe_resume()

    def set_dest_paused(self, paused: bool) -> None:
        self.dest_paused = paused
        if paused:
            if not self.source_paused:
                self.source_paused = True
                self.source.pause_reading()
        else:
            self._maybe_resume()

    def _maybe_resume(self) -> None:
        if self.source_paused and not self.dest_paused and self.buffered <= LOW_WATER:
            self.source_paused = False
            self.source.resume_reading()

    # -- toxics on a live link ---------------------------------------------------------------

    def _stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.toxic.name == name), None)

    def add_toxic(self, toxic: Toxic) -> None:
        stage = Stage(self, toxic)
        if self.stages:
            last = self.stages[-1]
            stage.output = last.output
            last.output = stage.input
        else:
            stage.output = self.sink
            self.head = stage.input
        self.stages.append(stage)
        stage.start()

    async def update_toxic(self, toxic: Toxic) -> None:
        stage = self._stage(toxic.name)
        if stage is None:
            return
        stage.toxic = toxic
        await stage.interrupt()
        if not stage.closed and not self.finished:
            stage.start()

    async def remove_toxic(self, toxic: Toxic) -> None:
        stage = self._stage(toxic.name)
        if stage is None:
            return
        await stage.interrupt()
        if toxic.kind.closes_on_remove:
            stage.finish(Close())
        index = self.stages.index(stage)
        del self.stages[index]
        if stage.closed:
            return  # the link is ending; its wiring no longer matters
        while stage.input.items:
            stage.output.put(stage.input.items.popleft())
        if index == 0:
            self.head = stage.output if isinstance(stage.output, Channel) else None
        else:
            self.stages[index - 1].output = stage.output

    def kill(self) -> None:
        for stage in self.stages:
            stage.kill()
