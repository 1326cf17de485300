"""The Toxiproxy HTTP API (routes, status codes, JSON shapes and headers of upstream's ``api.go``).

Headers as upstream (Shopify/toxiproxy v2 ``api.go`` on Go's net/http) sends them:

- every routed answer carries ``X-Toxiproxy-Request-Id``, a fresh xid (zerolog's
  ``hlog.RequestIDHandler("request_id", "X-Toxiproxy-Request-Id")``, mounted before the
  stop-browsers middleware, so the 403 for browsers has one too); unrouted 404/405 answers do
  not (gorilla/mux runs middlewares only on a matched route);
- JSON answers: ``Content-Type: application/json``, compact ``json.Marshal`` output;
- errors go through Go's ``http.Error``: ``Content-Type: text/plain; charset=utf-8``,
  ``X-Content-Type-Options: nosniff``, the JSON error plus a newline (``/populate`` writes its
  error as JSON itself); unrouted paths get net/http's ``404 page not found``.

One difference is left: aiohttp adds a ``Server`` header that net/http does not send.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time

from aiohttp import web

from fakes.toxiproxy._errors import ApiError, bad_body
from fakes.toxiproxy._proxy import ProxyCollection

__all__ = ["make_app", "VERSION", "COLLECTION_KEY", "REQUEST_ID_HEADER"]

# The upstream release whose API this fake follows.
VERSION = "2.9.0"

COLLECTION_KEY = web.AppKey("collection", ProxyCollection)
REQUEST_ID_HEADER = "X-Toxiproxy-Request-Id"


class _Xid:
    """github.com/rs/xid ids: 4-byte seconds, 3-byte machine, 2-byte pid, 3-byte counter,
    as 20 characters of lowercase base32hex (RFC 4648, no padding)."""

    def __init__(self) -> None:
        self._machine = os.urandom(3)
        self._pid = (os.getpid() & 0xFFFF).to_bytes(2, "big")
        self._counter = int.from_bytes(os.urandom(3), "big")
        self._lock = threading.Lock()

    def new(self) -> str:
        with self._lock:
            self._counter = (self._counter + 1) & 0xFFFFFF
            counter = self._counter
        raw = int(time.time()).to_bytes(4, "big") + self._machine + self._pid + counter.to_bytes(3, "big")
        return base64.b32hexencode(raw).decode().rstrip("=").lower()


_XID = _Xid()


def _json(data, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )


def _http_error(text: str, status: int) -> web.Response:
    # Go's http.Error: plain text, nosniff, a newline after the message.
    return web.Response(
        body=text.encode() + b"\n",
        status=status,
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


def _no_content() -> web.Response:
    return web.Response(status=204)


@web.middleware
async def _net_http_headers(request: web.Request, handler):
    """Request id on routed answers, net/http's 404 and gorilla/mux's 405."""
    routed = request.match_info.http_exception is None
    try:
        response = await handler(request)
    except web.HTTPMethodNotAllowed:
        response = web.Response(status=405)  # mux: empty body, no Allow header
    except web.HTTPNotFound:
        response = _http_error("404 page not found", 404)
    if routed:
        response.headers[REQUEST_ID_HEADER] = _XID.new()
    return response


@web.middleware
async def _stop_browsers(request: web.Request, handler):
    # Upstream refuses browsers so that a web page cannot drive the API (CSRF on localhost).
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return _http_error("User agent not allowed", 403)
    return await handler(request)


@web.middleware
async def _api_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return _http_error(json.dumps(exc.to_json(), separators=(",", ":")), exc.status)


async def _body(request: web.Request):
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_body(str(exc) if raw.strip() else "EOF") from None


def _proxies(request: web.Request) -> ProxyCollection:
    return request.app[COLLECTION_KEY]


async def version(request: web.Request) -> web.Response:
    return web.Response(
        body=json.dumps({"version": VERSION}).encode() + b"\n",
        headers={"Content-Type": "application/json;charset=utf-8"},
    )


async def reset(request: web.Request) -> web.Response:
    await _proxies(request).reset()
    return _no_content()


async def proxy_index(request: web.Request) -> web.Response:
    return _json({name: p.to_json() for name, p in _proxies(request).proxies.items()})


async def proxy_create(request: web.Request) -> web.Response:
    proxy = await _proxies(request).create(await _body(request))
    return _json(proxy.to_json(), 201)


async def populate(request: web.Request) -> web.Response:
    try:
        proxies = await _proxies(request).populate(await _body(request))
    except ApiError as exc:
        # upstream writes this one itself (not via http.Error): JSON content type
        return _json({**exc.to_json(), "proxies": [p.to_json() for p in exc.proxies]}, exc.status)
    return _json({"proxies": [p.to_json() for p in proxies]}, 201)


async def proxy_show(request: web.Request) -> web.Response:
    return _json(_proxies(request).get(request.match_info["proxy"]).to_json())


async def proxy_update(request: web.Request) -> web.Response:
    collection = _proxies(request)
    proxy = collection.get(request.match_info["proxy"])
    body = await _body(request)
    async with collection.lock:
        await proxy.update(body)
    return _json(proxy.to_json())


async def proxy_delete(request: web.Request) -> web.Response:
    await _proxies(request).remove(request.match_info["proxy"])
    return _no_content()


async def toxic_index(request: web.Request) -> web.Response:
    return _json(_proxies(request).get(request.match_info["proxy"]).toxics.to_json())


async def toxic_create(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    toxic = await proxy.toxics.add(await _body(request))
    return _json(toxic.to_json())


async def toxic_show(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    return _json(proxy.toxics.get(request.match_info["toxic"]).to_json())


async def toxic_update(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    toxic = await proxy.toxics.update(request.match_info["toxic"], await _body(request))
    return _json(toxic.to_json())


async def toxic_delete(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    await proxy.toxics.remove(request.match_info["toxic"])
    return _no_content()


def make_app(rng: random.Random) -> web.Application:
    app = web.Application(middlewares=[_net_http_headers, _stop_browsers, _api_errors])
    app[COLLECTION_KEY] = ProxyCollection(rng)
    app.router.add_post("/reset", reset)
    app.router.add_get("/proxies", proxy_index)
    app.router.add_post("/proxies", proxy_create)
    app.router.add_post("/populate", populate)
    app.router.add_get("/proxies/{proxy}", proxy_show)
    app.router.add_post("/proxies/{proxy}", proxy_update)
    app.router.add_patch("/proxies/{proxy}", proxy_update)
    app.router.add_delete("/proxies/{proxy}", proxy_delete)
    app.router.add_get("/proxies/{proxy}/toxics", toxic_index)
    app.router.add_post("/proxies/{proxy}/toxics", toxic_create)
    app.router.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show)
    app.router.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    app.router.add_get("/version", version)
    return app
