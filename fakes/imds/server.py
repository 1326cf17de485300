"""The metadata protocol: IMDSv2 tokens, metadata paths, answers shaped like EC2's.

Many instances share one server; each has its own base path, ``/<instance-id>/``, and the
default instance (if any) also answers at the root. botocore joins its configured endpoint
and ``latest/...`` with a slash (``IMDSFetcher._construct_url``), so setting
``AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/i-0abc.../`` points an unchanged
SDK or AWS CLI at one instance. Tokens belong to the instance that issued them.

Status codes follow EC2: 400 for a bad token PUT, 401 for a missing (when required), unknown
or expired token, 403 when the endpoint is disabled or a PUT carries X-Forwarded-For, 404 for
unknown paths and absent user-data, 405 for the wrong method, 429 when the instance exceeds
its request limit, 503 during an injected outage. Error bodies are EC2's small XHTML page.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from fakes.imds.listeners import LISTENER_APP_KEY, Listeners
from fakes.imds.model import MAX_TOKEN_TTL, identity_document, imds_json, iso_utc
from fakes.imds.state import ImdsState, InstanceState

__all__ = ["build_app", "STATE_KEY", "LISTENERS_KEY", "IMDS_CAPACITY_RPS", "IMDS_CAPACITY_FRESH_RPS"]

# Measured by tests/benchmarks/bench_imds.py on the 2-core development machine, keep-alive GETs
# of /latest/meta-data/instance-id with a token: 6,600-6,750 req/s from one client process at
# concurrency 16..64 (p50 2.4 ms, p99 5-19 ms), 8,000 req/s from two client processes; the
# server then used about half a core, so the client and the shared machine, not the fake, set
# the limit. Conservative value:
IMDS_CAPACITY_RPS = 6500
# The same with a new TCP connection per request (curl-style boot scripts): 1,450-2,250 req/s,
# bound by connection setup on both sides.
IMDS_CAPACITY_FRESH_RPS = 1500

STATE_KEY = web.AppKey("imds_state", ImdsState)
EXECUTOR_KEY = web.AppKey("imds_executor", ThreadPoolExecutor)
LISTENERS_KEY = web.AppKey("imds_listeners", Listeners)
# A held (partitioned) request gives up after this long even if the caller never does.
HOLD_LIMIT = 600.0
CONTROL_PREFIX = "/__bootstorm"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
_VERSION = re.compile(r"^(latest|\d{4}-\d{2}-\d{2}|1\.0)$")
_VERSIONS = "1.0\n2007-01-19\n2016-09-02\n2019-10-01\n2021-07-15\nlatest"
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}
_ERROR_PAGE = (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
    " <head>\n  <title>{code} - {reason}</title>\n </head>\n"
    " <body>\n  <h1>{code} - {reason}</h1>\n </body>\n</html>\n"
)


class _Dropped(Exception):
    """The request was swallowed (packet-drop throttling): no answer at all."""


def _text(body: str, status: int = 200, headers: dict | None = None) -> web.Response:
    hdrs = {"Server": "EC2ws"}
    if headers:
        hdrs.update(headers)
    return web.Response(text=body, status=status, content_type="text/plain", headers=hdrs)


def _error(code: int, headers: dict | None = None) -> web.Response:
    hdrs = {"Server": "EC2ws", **(headers or {})}
    body = _ERROR_PAGE.format(code=code, reason=_REASONS[code])
    return web.Response(text=body, status=code, content_type="text/html", headers=hdrs)


def _split(request: web.Request, state: ImdsState) -> tuple[InstanceState | None, str]:
    path = request.path
    if request.app.get(LISTENER_APP_KEY):  # a per-instance socket: the root is the instance
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        iid = state.port_instances.get(sockname[1]) if sockname else None
        st = state.instances.get(iid) if iid is not None else None
        if st is None:  # removed while a keep-alive connection was still open
            raise _Dropped()
        return st, path
    if path.startswith("/i-"):
        head, _, rest = path[1:].partition("/")
        return state.instances.get(head), "/" + rest
    if state.default_instance is None:
        return None, path
    return state.instances.get(state.default_instance), path


async def handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    st: InstanceState | None = None
    status: int | str = 500
    try:
        st, path = _split(request, state)
        resp = await _answer(request, st, path)
        status = resp.status
        return resp
    except _Reset:
        status = "reset"
        _abort_with_rst(request)
        raise asyncio.CancelledError() from None
    except _Dropped as exc:
        status = exc.args[0] if exc.args else "dropped"
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError() from None
    except asyncio.CancelledError:
        status = "client_gone"  # the caller hung up (its timeout) before we answered
        raise
    finally:
        state.record(st.instance.instance_id if st else None, request.method, request.path, status)


class _Reset(Exception):
    """Answer with a TCP RST (the connection_reset fault)."""


def _abort_with_rst(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 makes close() send RST instead of FIN, as toxiproxy's reset_peer does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _hold(request: web.Request, status: str) -> None:
    """Answer nothing until the caller hangs up (its timeout), the server stops, or HOLD_LIMIT."""
    state = request.app[STATE_KEY]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HOLD_LIMIT
    transport = request.transport
    while transport is not None and not transport.is_closing() and not state.closing and loop.time() < deadline:
        await asyncio.sleep(0.05)
    raise _Dropped(status)


async def _answer(request: web.Request, st: InstanceState | None, path: str) -> web.Response:
    if st is None:
        return _error(404)
    settings = st.settings
    if settings.partition:
        await _hold(request, "partitioned")
    if settings.connection_reset:
        raise _Reset()
    if settings.http_endpoint == "disabled":
        return _error(403)
    if settings.outage:
        return _error(503)
    if not st.allow(time.monotonic()):
        if settings.throttle_mode == "drop":
            await asyncio.sleep(settings.drop_stall)
            raise _Dropped()
        return _error(429)
    if settings.latency > 0:
        await asyncio.sleep(settings.latency)
    if path.rstrip("/") == "/latest/api/token":
        if request.method != "PUT":
            return _error(405, {"Allow": "OPTIONS, PUT"})
        return _put_token(request, st)
    if request.method not in ("GET", "HEAD"):
        return _error(405, {"Allow": "GET, HEAD, OPTIONS"})
    token = request.headers.get(TOKEN_HEADER)
    now = time.monotonic()
    if token is not None:
        if not st.token_valid(token, now):
            return _error(401)
    elif settings.http_tokens == "required":
        return _error(401)
    return await _metadata(request, st, path)


def _put_token(request: web.Request, st: InstanceState) -> web.Response:
    if "X-Forwarded-For" in request.headers:
        return _error(403)
    raw = request.headers.get(TTL_HEADER)
    try:
        ttl = int(raw) if raw is not None and raw.strip().isdigit() else -1
    except ValueError:
        ttl = -1
    if not 1 <= ttl <= MAX_TOKEN_TTL:
        return _error(400)
    cap = st.settings.token_ttl_cap
    if cap is not None:
        ttl = min(ttl, int(cap))
    token = st.issue_token(ttl, time.monotonic())
    return _text(token, headers={TTL_HEADER: str(ttl)})


async def _metadata(request: web.Request, st: InstanceState, path: str) -> web.Response:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return _text(_VERSIONS)
    if not _VERSION.match(parts[0]):
        return _error(404)
    inst = st.instance
    if len(parts) == 1:
        listing = ["dynamic", "meta-data"] + (["user-data"] if inst.user_data is not None else [])
        return _text("\n".join(listing))
    category, rest = parts[1], parts[2:]
    if category == "user-data" and not rest:
        return _error(404) if inst.user_data is None else _text(inst.user_data)
    if category == "dynamic":
        node = {"instance-identity": {"document": None}}
    elif category == "meta-data":
        node = st.tree
    else:
        return _error(404)
    for i, part in enumerate(rest):
        if not isinstance(node, dict) or part not in node:
            return _error(404)
        node = node[part]
        if node is None:  # rendered on demand
            return await _dynamic_leaf(request, st, category, rest[: i + 1])
    if isinstance(node, dict):
        return _text("\n".join(k + "/" if isinstance(node[k], dict) else k for k in sorted(node)))
    return _text(node)


async def _dynamic_leaf(request: web.Request, st: InstanceState, category: str, parts: list[str]) -> web.Response:
    inst = st.instance
    if category == "dynamic":
        return _text(identity_document(inst))
    if parts[-1] == "info" and parts[0] == "iam":
        held = request.app[STATE_KEY].ledger.held(inst.instance_id)
        return _text(imds_json({
            "Code": "Success",
            "LastUpdated": iso_utc(held.issued_at if held else inst.launched_at),
            "InstanceProfileArn": inst.instance_profile_arn,
            "InstanceProfileId": inst.instance_profile_id,
        }))
    return await _role_credentials(request, st)


async def _role_credentials(request: web.Request, st: InstanceState) -> web.Response:
    inst, settings = st.instance, st.settings
    ledger = request.app[STATE_KEY].ledger
    loop = asyncio.get_running_loop()
    try:
        creds = await loop.run_in_executor(
            request.app[EXECUTOR_KEY], ledger.current, inst.instance_id, inst.role,
            settings.credential_lifetime, settings.refresh_margin(), inst.account_id,
        )
    except Exception as exc:  # noqa: BLE001 - EC2 reports a failed AssumeRole in a 200 body
        return _text(imds_json({
            "Code": "AssumeRoleUnauthorizedAccess",
            "Message": f"EC2 cannot assume the role {inst.role}: {exc}",
            "LastUpdated": iso_utc(time.time()),
        }))
    return _text(imds_json(creds.imds_body()))


def build_app(state: ImdsState) -> web.Application:
    from fakes.imds.control import add_control_routes

    app = web.Application()
    app[STATE_KEY] = state
    # AssumeRole on moto blocks for tens of ms; a few threads keep a boot storm moving.
    app[EXECUTOR_KEY] = ThreadPoolExecutor(max_workers=8, thread_name_prefix="imds-sts")
    app[LISTENERS_KEY] = Listeners(state, EXECUTOR_KEY, STATE_KEY, handle)
    add_control_routes(app, CONTROL_PREFIX)
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_startup.append(_open_listeners)
    app.on_shutdown.append(_close_listeners)
    return app


async def _open_listeners(app: web.Application) -> None:
    await app[LISTENERS_KEY].sync(app)  # instances from the config file


async def _close_listeners(app: web.Application) -> None:
    app[STATE_KEY].closing = True
    await app[LISTENERS_KEY].close_all()
