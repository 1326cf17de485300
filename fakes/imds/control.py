"""The control API under ``/__bootstorm``: what the harness and tests change at run time.

    GET    /__bootstorm/health
    GET    /__bootstorm/instances              every instance (identity, settings, base path)
    POST   /__bootstorm/instances              add one: {instance_id?, availability_zone?, role?,
                                               user_data?, tags?, settings?, at_root?, listener?}
                                               or many: {"instances": [spec, ...]}
                                               listener: true also serves it at the root of its
                                               own 127.0.0.1 port, reported as listener_port
    GET    /__bootstorm/instances/{id}
    DELETE /__bootstorm/instances/{id}
    GET    /__bootstorm/settings               the defaults for new instances
    POST   /__bootstorm/settings               {instance?: id, <setting>: value, ...}
    POST   /__bootstorm/expire-tokens          {instance?: id}  session tokens die now
    POST   /__bootstorm/expire-credentials     {instance?: id}  role credentials expire now
    GET    /__bootstorm/credentials?since=N    issued keys: access_key_id, instance_id, expiration
    GET    /__bootstorm/log?since=N&instance=  requests: seq, time, monotonic, instance, path, status
    POST   /__bootstorm/reset                  back to the startup configuration
    GET    /__bootstorm/signing-certificate    PEM of the TEST certificate that signs the identity
                                               documents (dynamic/instance-identity/*)

Bad input (a malformed instance id included) answers 400 and an unknown instance 404, both as
``{"error": "..."}``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

from aiohttp import web

__all__ = ["add_control_routes", "RESET_KEY"]

RESET_KEY = web.AppKey("imds_reset", Callable)
PARENT_KEY = web.AppKey("imds_parent", web.Application)


async def _body(request: web.Request) -> dict:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f'{{"error": "expected a JSON object: {exc}"}}',
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "expected a JSON object"}', content_type="application/json")
    return body


def _describe(state, st) -> dict:
    out = st.instance.public()
    out["base_path"] = f"/{st.instance.instance_id}/"
    out["at_root"] = st.instance.instance_id == state.default_instance
    out["listener_port"] = state.listener_ports.get(st.instance.instance_id)
    return out


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except KeyError as exc:
        return web.json_response({"error": str(exc.args[0]) if exc.args else "not found"}, status=404)
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)


def add_control_routes(app: web.Application, prefix: str) -> None:
    sub = web.Application(middlewares=[_errors])
    sub.router.add_get("/health", health)
    sub.router.add_get("/instances", list_instances)
    sub.router.add_post("/instances", add_instance)
    sub.router.add_get("/instances/{iid}", get_instance)
    sub.router.add_delete("/instances/{iid}", remove_instance)
    sub.router.add_get("/settings", get_settings)
    sub.router.add_post("/settings", set_settings)
    sub.router.add_post("/expire-tokens", expire_tokens)
    sub.router.add_post("/expire-credentials", expire_credentials)
    sub.router.add_get("/credentials", credentials)
    sub.router.add_get("/log", request_log)
    sub.router.add_post("/reset", reset)
    sub.router.add_get("/signing-certificate", signing_certificate)
    sub[PARENT_KEY] = app
    app.add_subapp(prefix, sub)


def _parent(request: web.Request) -> web.Application:
    return request.app[PARENT_KEY]


def _st(request: web.Request):
    from fakes.imds.server import STATE_KEY

    return _parent(request)[STATE_KEY]


async def health(request: web.Request) -> web.Response:
    st = _st(request)
    return web.json_response({"ok": True, "instances": len(st.instances), "time": time.time()})


async def list_instances(request: web.Request) -> web.Response:
    st = _st(request)
    return web.json_response({"instances": [_describe(st, s) for s in st.instances.values()]})


async def add_instance(request: web.Request) -> web.Response:
    body = await _body(request)
    st = _st(request)
    if "instances" in body:  # a whole fleet in one call
        specs = body["instances"]
        if not isinstance(specs, list) or not all(isinstance(x, dict) for x in specs):
            raise ValueError("instances: expected a list of instance objects")
        added = []
        try:
            for spec in specs:
                added.append(_add(st, dict(spec)))
        finally:  # the ones added before a bad spec stay, so they get their sockets too
            await _sync_listeners(request)
        return web.json_response({"instances": [_describe(st, st.get(i)) for i in added]}, status=201)
    iid = _add(st, body)
    await _sync_listeners(request)
    return web.json_response(_describe(st, st.get(iid)), status=201)


def _add(st, spec: dict) -> str:
    at_root = spec.pop("at_root", False)
    if not isinstance(at_root, bool):
        raise ValueError(f"at_root: expected true or false, got {at_root!r}")
    return st.add(spec, at_root=at_root).instance_id


async def _sync_listeners(request: web.Request) -> None:
    from fakes.imds.server import LISTENERS_KEY

    parent = _parent(request)
    await parent[LISTENERS_KEY].sync(parent)


async def get_instance(request: web.Request) -> web.Response:
    st = _st(request)
    return web.json_response(_describe(st, st.get(request.match_info["iid"])))


async def remove_instance(request: web.Request) -> web.Response:
    _st(request).remove(request.match_info["iid"])
    await _sync_listeners(request)
    return web.json_response({"removed": request.match_info["iid"]})


async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(dataclasses.asdict(_st(request).defaults))


async def set_settings(request: web.Request) -> web.Response:
    body = await _body(request)
    instance_id = body.pop("instance", None)
    st = _st(request)
    st.configure(body, instance_id)
    target = st.defaults if instance_id is None else st.get(instance_id).settings
    return web.json_response(dataclasses.asdict(target))


async def expire_tokens(request: web.Request) -> web.Response:
    body = await _body(request)
    return web.json_response({"expired": _st(request).expire_tokens(body.get("instance"))})


async def expire_credentials(request: web.Request) -> web.Response:
    body = await _body(request)
    st = _st(request)
    instance_id = body.get("instance")
    if instance_id is not None:
        st.get(instance_id)  # 404 for an unknown instance
    return web.json_response({"expired": st.ledger.expire(instance_id)})


async def credentials(request: web.Request) -> web.Response:
    since = int(request.query.get("since", "0"))
    return web.json_response({"credentials": _st(request).ledger.issued(since), "now": time.time()})


async def request_log(request: web.Request) -> web.Response:
    since = int(request.query.get("since", "0"))
    limit = int(request.query.get("limit", "50000"))
    st = _st(request)
    entries = st.log_since(since, request.query.get("instance"), limit)
    return web.json_response({"entries": entries, "last_seq": st.log_seq})


async def reset(request: web.Request) -> web.Response:
    parent = _parent(request)
    st = _st(request)
    st.clear()
    try:
        parent[RESET_KEY](st)
    finally:
        await _sync_listeners(request)
    return web.json_response({"ok": True, "instances": len(st.instances)})


async def signing_certificate(request: web.Request) -> web.Response:
    return web.Response(text=_st(request).signer.certificate_pem, content_type="application/x-pem-file")
