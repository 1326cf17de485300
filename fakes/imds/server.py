"""The metadata protocol: IMDSv2 tokens, limits, faults, then the answer for the path.

Many instances share one server; each has its own base path, ``/<instance-id>/``, and the
default instance (if any) also answers at the root. botocore joins its configured endpoint
and ``latest/...`` with a slash (``IMDSFetcher._construct_url``), so setting
``AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/i-0abc.../`` points an unchanged
SDK or AWS CLI at one instance. An instance added with ``listener: true`` is also served at
the root of its own port (`fakes.imds.listeners`), as 169.254.169.254 serves it. Tokens
belong to the instance that issued them.

Status codes follow EC2: 400 for a bad token PUT, 401 for a missing (when required), unknown
or expired token, 403 when the endpoint is disabled, a PUT carries X-Forwarded-For or asks a
dated version for a token (``PUT /2021-03-23/api/token``), 404 for
unknown paths, versions and absent user-data, 405 for the wrong method, 429 when the instance
exceeds its request limit, 503 during an injected outage. Error bodies are EC2's XHTML page.
A token PUT from software more hops away than ``http_put_response_hop_limit`` gets no answer.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from fakes.imds.listeners import LISTENER_APP_KEY, Listeners
from fakes.imds.model import MAX_TOKEN_TTL
from fakes.imds.render import answer_metadata
from fakes.imds.responses import error, text
from fakes.imds.state import ImdsState, InstanceState
from fakes.imds.versions import LATEST, VERSIONS

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
CONTROL_PREFIX = "/__bootstorm"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
# A held (partitioned, hop-limited) request gives up after this long even if the caller never does.
HOLD_LIMIT = 600.0


class _Dropped(Exception):
    """No answer at all: the connection is closed (status for the log in args[0])."""


class _Reset(Exception):
    """Answer with a TCP RST (the connection_reset fault)."""


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
        await asyncio.sleep(0.2)  # cheap for hundreds of held requests; the log may lag 0.2 s
    raise _Dropped(status)


async def _answer(request: web.Request, st: InstanceState | None, path: str) -> web.Response:
    if st is None:
        return error(404)
    settings = st.settings
    if settings.partition:
        await _hold(request, "partitioned")
    if settings.connection_reset:
        raise _Reset()
    if settings.http_endpoint == "disabled":
        return error(403)
    if settings.outage:
        return error(503)
    if not st.allow(time.monotonic()):
        if settings.throttle_mode == "drop":
            await asyncio.sleep(settings.drop_stall)
            raise _Dropped()
        return error(429)
    if settings.latency > 0:
        await asyncio.sleep(settings.latency)
    if request.method == "PUT" and _versioned_token_path(path):
        # AWS: "Issuing PUT requests to any version-specific path, for example
        # /2021-03-23/api/token, will result in the metadata service returning 403 Forbidden."
        return error(403)
    if path.rstrip("/") == "/latest/api/token":
        if request.method != "PUT":
            return error(405, {"Allow": "OPTIONS, PUT"})
        resp = _put_token(request, st)
        if resp.status == 200 and settings.hops > settings.http_put_response_hop_limit:
            # The answer's IP TTL runs out one hop short of the container: it never arrives.
            await _hold(request, "hop_limit_exceeded")
        return resp
    if request.method not in ("GET", "HEAD"):
        return error(405, {"Allow": "GET, HEAD, OPTIONS"})
    token = request.headers.get(TOKEN_HEADER)
    if token is not None:
        if not st.token_valid(token, time.monotonic()):
            return error(401)
    elif settings.http_tokens == "required":
        return error(401)
    return await answer_metadata(request.app[STATE_KEY], st, path, token is not None, request.app[EXECUTOR_KEY])


def _versioned_token_path(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    return len(parts) == 3 and parts[0] in VERSIONS and parts[0] != LATEST and parts[1:] == ["api", "token"]


def _put_token(request: web.Request, st: InstanceState) -> web.Response:
    if "X-Forwarded-For" in request.headers:
        return error(403)
    raw = request.headers.get(TTL_HEADER)
    try:
        ttl = int(raw) if raw is not None and raw.strip().isdigit() else -1
    except ValueError:
        ttl = -1
    if not 1 <= ttl <= MAX_TOKEN_TTL:
        return error(400)
    cap = st.settings.token_ttl_cap
    if cap is not None:
        ttl = min(ttl, int(cap))
    token = st.issue_token(ttl, time.monotonic())
    return text(token, headers={TTL_HEADER: str(ttl)})


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
