"""The toxics of one proxy, and how API changes reach the links of its live connections.

Validation follows upstream's ``ToxicCollection.AddToxicJson``: the stream is checked first
(400), the name defaults to ``<type>_<stream>``, then the type (400), then uniqueness of the
name across both streams (409), then the attributes (400). An update merges the given
attributes and toxicity into the current ones; name, type and stream stay.
"""

from __future__ import annotations

import asyncio
import math

from fakes.toxiproxy._errors import ApiError, bad_body
from fakes.toxiproxy._link import Link
from fakes.toxiproxy._toxics import TOXIC_TYPES, Toxic

__all__ = ["ToxicCollection"]

STREAMS = ("upstream", "downstream")

def _integer(value, field: str) -> int:
    # Go decodes these into int64: a fraction, a string or a bool is a bad request body.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_body(f"attribute {field!r} must be an integer, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise bad_body(f"attribute {field!r} must be an integer, got {value!r}")
    return int(value)


def _attributes(current: dict[str, int], given) -> dict[str, int]:
    if given is None:
        return dict(current)
    if not isinstance(given, dict):
        raise bad_body(f"attributes must be an object, got {given!r}")
    merged = dict(current)
    for key in current:
        if key in given:
            merged[key] = _integer(given[key], key)
    return merged


def _toxicity(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_body(f"toxicity must be a number, got {value!r}")
    return float(value)


class ToxicCollection:
    def __init__(self):
        self.toxics: list[Toxic] = []  # upstream-stream toxics first, then downstream, as upstream lists them
        self.links: set[Link] = set()
        # One change at a time, as upstream holds the collection lock across a change.
        self.lock = asyncio.Lock()

    def chain(self, stream: str) -> list[Toxic]:
        return [t for t in self.toxics if t.stream == stream]

    def to_json(self) -> list[dict]:
        return [t.to_json() for s in STREAMS for t in self.chain(s)]

    def get(self, name: str) -> Toxic:
        for toxic in self.toxics:
            if toxic.name == name:
                return toxic
        raise ApiError("toxic not found", 404)

    def attach(self, link: Link) -> None:
        self.links.add(link)
        for toxic in self.chain(link.direction):
            link.add_toxic(toxic)

    def detach(self, link: Link) -> None:
        self.links.discard(link)

    def _links(self, stream: str) -> list[Link]:
        return [link for link in self.links if link.direction == stream]

    async def add(self, body) -> Toxic:
        if not isinstance(body, dict):
            raise bad_body(f"expected a JSON object, got {body!r}")
        stream = body.get("stream", "downstream")
        if not isinstance(stream, str) or stream.lower() not in STREAMS:
            raise ApiError("stream was invalid, can be either upstream or downstream", 400)
        stream = stream.lower()
        type_name = body.get("type", "")
        name = body.get("name") or f"{type_name}_{stream}"
        kind = TOXIC_TYPES.get(type_name) if isinstance(type_name, str) else None
        if kind is None:
            raise ApiError("invalid toxic type", 400)
        if not isinstance(name, str):
            raise bad_body(f"name must be a string, got {name!r}")
        async with self.lock:
            if any(t.name == name for t in self.toxics):
                raise ApiError("toxic already exists", 409)
            toxic = Toxic(
                name=name,
                type=type_name,
                stream=stream,
                toxicity=_toxicity(body.get("toxicity", 1.0)),
                attributes=_attributes(kind.defaults, body.get("attributes")),
            )
            self.toxics.append(toxic)
            for link in self._links(stream):
                link.add_toxic(toxic)
        return toxic

    async def update(self, name: str, body) -> Toxic:
        if not isinstance(body, dict):
            raise bad_body(f"expected a JSON object, got {body!r}")
        async with self.lock:
            current = self.get(name)
            updated = Toxic(
                name=current.name,
                type=current.type,
                stream=current.stream,
                toxicity=_toxicity(body.get("toxicity", current.toxicity)),
                attributes=_attributes(current.attributes, body.get("attributes")),
            )
            self.toxics[self.toxics.index(current)] = updated
            await asyncio.gather(*(link.update_toxic(updated) for link in self._links(updated.stream)))
        return updated

    async def remove(self, name: str) -> None:
        async with self.lock:
            await self._remove(self.get(name))

    async def _remove(self, toxic: Toxic) -> None:
        self.toxics.remove(toxic)
        await asyncio.gather(*(link.remove_toxic(toxic) for link in self._links(toxic.stream)))

    async def reset(self) -> None:
        async with self.lock:
            for toxic in list(self.toxics):
                await self._remove(toxic)
