"""The gate's control API: JSON over HTTP under a reserved prefix on the gate's own port.

    GET    /health                       {"ok": true, "upstream": URL}
    GET    /rules                        {"rules": [...]}
    POST   /rules                        a rule (see ``rules``) -> {"rule": {... "id": "r1"}}
    DELETE /rules/{id}                   {"removed": 1}, 404 for an unknown id
    DELETE /rules[?kind=K&service=S]     {"removed": n}
    GET    /credentials                  {"credentials": [...]}
    POST   /credentials                  {"access_key", "instance_id"?, "expiration"? | "expires_in"?,
                                          "secret_key"?, "session_token"?}  (secrets never echoed)
    POST   /credentials/expire           {"access_key"? , "instance_id"?} -> {"expired": n}
    GET    /log?since=&limit=&<field>=   {"entries": [...], "next": seq, "dropped": n}
    GET    /series?bucket_s=&start=&<field>=  per-bucket offered/ok/throttled/failed, latency p50/p99
    GET    /counters                     {"counters": [{service, operation, requests, status, errors}]}
    POST   /reset                        forget rules, credentials, log and counters

Bad input answers 400 with ``{"error": "..."}`` naming the field, what was expected and what
was given.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from fakes.gate.credentials import CredentialError
from fakes.gate.requestlog import FIELDS
from fakes.gate.rules import KINDS, RuleError

__all__ = ["add_control_routes"]

_LOG_FILTERS = ("instance_id", "access_key", "service", "operation", "status", "error_code")


class _BadInput(ValueError):
    pass


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json_body(request: web.Request, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise _BadInput("expected a JSON object in the request body, got an empty body")
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _BadInput(f"expected a JSON body, got invalid JSON ({exc})") from None


def _int_arg(request: web.Request, name: str, default: int, low: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadInput(f"query parameter {name!r} must be an integer, got {raw!r}") from None
    if value < low:
        raise _BadInput(f"query parameter {name!r} must be >= {low}, got {value}")
    return value


def _guarded(handler):
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request, request.app["state"])
        except (_BadInput, RuleError, CredentialError) as exc:
            return _error(400, str(exc))

    return wrapper


async def _health(request, state) -> web.Response:
    return web.json_response({"ok": True, "upstream": state.upstream})


async def _list_rules(request, state) -> web.Response:
    return web.json_response({"rules": [r.describe() for r in state.rules.rules.values()]})


async def _add_rule(request, state) -> web.Response:
    rule = state.rules.add(await _json_body(request), time.monotonic())
    return web.json_response({"rule": rule.describe()})


async def _remove_rule(request, state) -> web.Response:
    rule_id = request.match_info["rule_id"]
    if not state.rules.remove(rule_id):
        known = ", ".join(state.rules.rules) or "none"
        return _error(404, f"no rule with id {rule_id!r}; active rules: {known}")
    return web.json_response({"removed": 1})


async def _clear_rules(request, state) -> web.Response:
    kind = request.query.get("kind")
    if kind is not None and kind not in KINDS:
        raise _BadInput(f"query parameter 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    return web.json_response({"removed": state.rules.clear(kind, request.query.get("service"))})


async def _list_credentials(request, state) -> web.Response:
    return web.json_response({"credentials": [c.describe() for c in state.credentials.keys.values()]})


async def _register_credential(request, state) -> web.Response:
    credential = state.credentials.register(await _json_body(request), time.time())
    state.unknown_keys.discard(credential.access_key)  # known now: look it up again if need be
    if credential.secret is None and state.verify_signatures:
        # A key registered without its secret (the stack's IMDS sync) is one moto issued: learn
        # its secret now, in the background, so the instance's first call does not wait for it.
        from fakes.gate.server import prefetch_moto_keys

        prefetch_moto_keys(state, request.app["session"])
    return web.json_response({"credential": credential.describe()})


async def _expire_credentials(request, state) -> web.Response:
    spec = await _json_body(request, required=False)
    if not isinstance(spec, dict):
        raise _BadInput(f"expected a JSON object, got {type(spec).__name__}")
    unknown = set(spec) - {"access_key", "instance_id"}
    if unknown:
        raise _BadInput(f"unknown fields {sorted(unknown)}; allowed: ['access_key', 'instance_id']")
    for name in ("access_key", "instance_id"):
        if name in spec and (not isinstance(spec[name], str) or not spec[name]):
            raise _BadInput(f"field {name!r} must be a non-empty string, got {spec[name]!r}")
    count = state.credentials.expire(time.time(), spec.get("access_key"), spec.get("instance_id"))
    return web.json_response({"expired": count})


async def _read_log(request, state) -> web.Response:
    unknown = set(request.query) - {"since", "limit", *_LOG_FILTERS}
    if unknown:
        raise _BadInput(f"unknown query parameters {sorted(unknown)}; allowed: since, limit, {', '.join(_LOG_FILTERS)}")
    filters: dict[str, Any] = {name: request.query.get(name) for name in _LOG_FILTERS}
    if filters["status"] is not None:
        filters["status"] = _int_arg(request, "status", 0, 100)
    page = state.log.since(
        _int_arg(request, "since", 0, 0), _int_arg(request, "limit", 10_000, 1), **filters
    )
    return web.json_response({**page, "fields": list(FIELDS)})


async def _series(request, state) -> web.Response:
    unknown = set(request.query) - {"bucket_s", "start", *_LOG_FILTERS}
    if unknown:
        raise _BadInput(f"unknown query parameters {sorted(unknown)}; allowed: bucket_s, start, {', '.join(_LOG_FILTERS)}")
    numbers = {}
    for name, default in (("bucket_s", 1.0), ("start", None)):
        raw = request.query.get(name)
        try:
            numbers[name] = default if raw is None else float(raw)
        except ValueError:
            raise _BadInput(f"query parameter {name!r} must be a number, got {raw!r}") from None
    if numbers["bucket_s"] <= 0:
        raise _BadInput(f"query parameter 'bucket_s' must be > 0, got {numbers['bucket_s']:g}")
    filters: dict[str, Any] = {name: request.query.get(name) for name in _LOG_FILTERS}
    if filters["status"] is not None:
        filters["status"] = _int_arg(request, "status", 0, 100)
    return web.json_response({"series": state.log.series(numbers["bucket_s"], numbers["start"], **filters)})


async def _counters(request, state) -> web.Response:
    return web.json_response({"counters": state.log.counter_rows(), "total": state.log.seq})


async def _reset(request, state) -> web.Response:
    state.reset()
    return web.json_response({"reset": True})


async def _unknown(request, state) -> web.Response:
    return _error(404, f"no control endpoint {request.method} {request.path}; see fakes/gate/control.py")


def add_control_routes(app: web.Application, prefix: str) -> None:
    route = app.router.add_route
    route("GET", f"{prefix}/health", _guarded(_health))
    route("GET", f"{prefix}/rules", _guarded(_list_rules))
    route("POST", f"{prefix}/rules", _guarded(_add_rule))
    route("DELETE", f"{prefix}/rules", _guarded(_clear_rules))
    route("DELETE", f"{prefix}/rules/{{rule_id}}", _guarded(_remove_rule))
    route("GET", f"{prefix}/credentials", _guarded(_list_credentials))
    route("POST", f"{prefix}/credentials", _guarded(_register_credential))
    route("POST", f"{prefix}/credentials/expire", _guarded(_expire_credentials))
    route("GET", f"{prefix}/log", _guarded(_read_log))
    route("GET", f"{prefix}/series", _guarded(_series))
    route("GET", f"{prefix}/counters", _guarded(_counters))
    route("POST", f"{prefix}/reset", _guarded(_reset))
    route("*", f"{prefix}/{{tail:.*}}", _guarded(_unknown))
