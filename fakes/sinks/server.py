"""The registry and telemetry sinks over HTTP (aiohttp, JSON in and out).

    POST   /register              {instance_id, expected_version?, idempotency_key?, ...}
                                  header Idempotency-Key wins over the field;
                                  201 new, 200 duplicate, 409 CAS conflict, 428 CAS required
    DELETE /register/{id}         ?expected_version=N
    GET    /membership            {version, members}
    POST   /telemetry             {instance_id, source: agent|app, kind?, ...} -> 202
    GET    /events?since=N        events with seq > N (&instance=ID&type=T&limit=N)
    GET    /summary               per instance: registered_at, first agent/app event, counts
    GET    /summary/{id}
    GET    /health
    POST   /__sinks/settings      {cas_required?, latency?, fail_status?}
    POST   /__sinks/reset

``latency`` delays every sink answer; ``fail_status`` (e.g. 503) makes register and telemetry
fail without storing anything, so a run can see how bootstraps cope with a broken registry.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from fakes.sinks.store import Rejected, SinkStore

__all__ = ["build_app", "STORE_KEY"]

STORE_KEY = web.AppKey("sink_store", SinkStore)
FAULTS_KEY = web.AppKey("sink_faults", dict)


async def _json(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError as exc:
        raise Rejected(400, {"error": f"expected a JSON object: {exc}"}) from None
    if not isinstance(body, dict):
        raise Rejected(400, {"error": f"expected a JSON object, got {type(body).__name__}"})
    return body


@web.middleware
async def _faults(request: web.Request, handler):
    faults = request.app[FAULTS_KEY]
    try:
        if not request.path.startswith("/__sinks"):
            if faults["latency"] > 0:
                await asyncio.sleep(faults["latency"])
            if faults["fail_status"] and request.method == "POST":
                return web.json_response({"error": "injected failure"}, status=faults["fail_status"])
        return await handler(request)
    except Rejected as exc:
        return web.json_response(exc.body, status=exc.status)


async def register(request: web.Request) -> web.Response:
    body = await _json(request)
    status, answer = request.app[STORE_KEY].register(body, request.headers.get("Idempotency-Key"))
    return web.json_response(answer, status=status)


def _int_query(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise Rejected(400, {"error": f"{name}: expected an integer, got {raw!r}"}) from None


async def deregister(request: web.Request) -> web.Response:
    expected = _int_query(request, "expected_version", None)
    return web.json_response(request.app[STORE_KEY].deregister(request.match_info["iid"], expected))


async def membership(request: web.Request) -> web.Response:
    return web.json_response(request.app[STORE_KEY].membership())


async def telemetry(request: web.Request) -> web.Response:
    body = await _json(request)
    return web.json_response(request.app[STORE_KEY].telemetry(body), status=202)


async def events(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    found = store.events_since(_int_query(request, "since", 0), request.query.get("instance"),
                               request.query.get("type"), _int_query(request, "limit", 50_000))
    return web.json_response({"events": found, "last_seq": len(store.events)})


async def summary(request: web.Request) -> web.Response:
    return web.json_response({"instances": request.app[STORE_KEY].summary(), "now": time.time(),
                              "now_monotonic": time.monotonic()})


async def summary_one(request: web.Request) -> web.Response:
    iid = request.match_info["iid"]
    found = request.app[STORE_KEY].summary().get(iid)
    if found is None:
        raise Rejected(404, {"error": f"no event from {iid}"})
    return web.json_response(found)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "events": len(request.app[STORE_KEY].events)})


async def settings(request: web.Request) -> web.Response:
    body = await _json(request)
    store, faults = request.app[STORE_KEY], request.app[FAULTS_KEY]
    unknown = set(body) - {"cas_required", "latency", "fail_status"}
    if unknown:
        raise Rejected(400, {"error": f"unknown settings {sorted(unknown)}; expected cas_required, "
                                      "latency, fail_status"})
    if "cas_required" in body:
        store.cas_required = bool(body["cas_required"])
    if "latency" in body:
        faults["latency"] = float(body["latency"] or 0.0)
    if "fail_status" in body:
        faults["fail_status"] = int(body["fail_status"] or 0)
    return web.json_response({"cas_required": store.cas_required, **faults})


async def reset(request: web.Request) -> web.Response:
    request.app[STORE_KEY].reset()
    request.app[FAULTS_KEY].update(latency=0.0, fail_status=0)
    return web.json_response({"ok": True})


def build_app() -> web.Application:
    app = web.Application(middlewares=[_faults])
    app[STORE_KEY] = SinkStore()
    app[FAULTS_KEY] = {"latency": 0.0, "fail_status": 0}
    app.router.add_post("/register", register)
    app.router.add_delete("/register/{iid}", deregister)
    app.router.add_get("/membership", membership)
    app.router.add_post("/telemetry", telemetry)
    app.router.add_get("/events", events)
    app.router.add_get("/summary", summary)
    app.router.add_get("/summary/{iid}", summary_one)
    app.router.add_get("/health", health)
    app.router.add_post("/__sinks/settings", settings)
    app.router.add_post("/__sinks/reset", reset)
    return app
