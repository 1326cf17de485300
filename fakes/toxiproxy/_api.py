"""The Toxiproxy HTTP API (routes, status codes and JSON shapes of upstream's ``api.go``)."""

from __future__ import annotations

import json
import random

from aiohttp import web

from fakes.toxiproxy._errors import ApiError, bad_body
from fakes.toxiproxy._proxy import ProxyCollection

__all__ = ["make_app", "VERSION", "COLLECTION_KEY"]

# The upstream release whose API this fake follows.
VERSION = "2.9.0"

COLLECTION_KEY = web.AppKey("collection", ProxyCollection)


def _json(data, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode() + b"\n", status=status, content_type="application/json"
    )


def _no_content() -> web.Response:
    return web.Response(status=204)


@web.middleware
async def _stop_browsers(request: web.Request, handler):
    # Upstream refuses browsers so that a web page cannot drive the API (CSRF on localhost).
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(status=403, text="User agent not allowed\n")
    return await handler(request)


@web.middleware
async def _api_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return _json(exc.to_json(), exc.status)


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
    app = web.Application(middlewares=[_stop_browsers, _api_errors])
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
