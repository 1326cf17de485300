"""The AWS API gate: an aiohttp reverse proxy in front of moto that adds what moto lacks.

Every request not under the control prefix is identified (protocol, service, operation, access
key, instance), checked against the rules and the credential book, and either answered by the
gate with the real AWS error or forwarded to moto unchanged (method, path, query, headers
including Host, so SigV4 signatures still verify, and body) over one pooled ClientSession.
Each request is recorded in the request log; nothing is printed per request.

Capacity, measured with ``tests/benchmarks/bench_gate.py`` on the 2-core development machine
(one gate process, one event loop, the load generator on the same cores, 16 concurrent
clients): about 5,400 req/s answered by the gate itself (p50 3 ms), about 310 req/s proxied to
moto against about 400 req/s straight to moto (moto, a threaded werkzeug server that closes
every connection, is the bottleneck there). ``GATE_CAPACITY_RPS`` and ``PROXIED_CAPACITY_RPS``
are conservative figures the harness compares offered load against to warn that the fakes,
not the modelled dependency, are what limits a run.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from fakes.gate.control import add_control_routes
from fakes.gate.credentials import CredentialBook
from fakes.gate.protocol import JSON, QUERY, Call, error_body, error_code_of, identify, json_error_from_xml
from fakes.gate.requestlog import DEFAULT_CAPACITY, RequestLog
from fakes.gate.rules import RuleSet

__all__ = ["GateState", "build_app", "serve", "CONTROL_PREFIX", "GATE_CAPACITY_RPS", "PROXIED_CAPACITY_RPS"]

CONTROL_PREFIX = "/__bootstorm"
# Rounded well down from the benchmark: bootstraps under test share the cores with the fakes.
GATE_CAPACITY_RPS = 2500  # answered by the gate itself (throttled, denied, injected failures)
PROXIED_CAPACITY_RPS = 200  # forwarded to one moto process
UPSTREAM_CONNECTIONS = 64

_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
    )
)
_ASSUME_OPERATIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})


@dataclass
class GateState:
    """Everything the gate decides with; the control API reads and changes it."""

    upstream: str
    seed: int = 0
    log_capacity: int = DEFAULT_CAPACITY
    rules: RuleSet = field(init=False)
    credentials: CredentialBook = field(default_factory=CredentialBook)
    log: RequestLog = field(init=False)

    def __post_init__(self) -> None:
        self.upstream = self.upstream.rstrip("/")
        self.rules = RuleSet(rng=random.Random(self.seed))
        self.log = RequestLog(self.log_capacity)

    def reset(self) -> None:
        self.rules = RuleSet(rng=random.Random(self.seed))
        self.credentials = CredentialBook()
        self.log.clear()

    def decide(self, call: Call) -> str | None:
        """The failure the gate answers with, or None to forward to moto."""
        failure = self.rules.check_front(call)
        if failure is None and self.credentials.is_expired(call.access_key, time.time()):
            failure = "expired"
        return failure or self.rules.check(call, time.monotonic())


def _forward_headers(headers) -> CIMultiDict:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP)


async def _forward(state: GateState, session: aiohttp.ClientSession, request: web.Request, body: bytes):
    async with session.request(
        request.method,
        state.upstream + request.path_qs,
        headers=_forward_headers(request.headers),
        data=body if body else None,
        allow_redirects=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
    ) as upstream:
        payload = await upstream.read()
        return upstream.status, _forward_headers(upstream.headers), payload


async def _proxy(request: web.Request) -> web.StreamResponse:
    state: GateState = request.app["state"]
    started = time.perf_counter()
    wall = time.time()
    body = await request.read()
    call = identify(request.method, request.query_string, request.headers, body)
    if call.instance_id is None:
        call.instance_id = state.credentials.instance_of(call.access_key)
    failure = state.decide(call)
    by_gate = failure is not None
    error_code: str | None = None
    if failure is None:
        try:
            status, headers, payload = await _forward(state, request.app["session"], request, body)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            failure, by_gate = "unavailable", True
        else:
            if status >= 400:
                if status == 403 and call.protocol == JSON:
                    fixed = json_error_from_xml(payload)
                    if fixed is not None:
                        status, fixed_headers, payload = fixed
                        headers.update(fixed_headers)
                error_code = error_code_of(headers, payload)
            elif call.protocol == QUERY and call.operation in _ASSUME_OPERATIONS:
                state.credentials.learn_assumed(payload, call.instance_id)
    if failure is not None:
        status, error_code, error_headers, payload = error_body(failure, call)
        headers = CIMultiDict(error_headers)
    response = web.Response(status=status, body=payload, headers=headers)
    state.log.add(
        wall,
        call.instance_id,
        call.access_key,
        call.service,
        call.operation,
        status,
        error_code,
        round((time.perf_counter() - started) * 1000.0, 3),
        by_gate,
    )
    return response


async def _open_session(app: web.Application):
    connector = aiohttp.TCPConnector(limit=UPSTREAM_CONNECTIONS, keepalive_timeout=30)
    app["session"] = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=120),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    yield
    await app["session"].close()


def build_app(state: GateState) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["state"] = state
    app.cleanup_ctx.append(_open_session)
    add_control_routes(app, CONTROL_PREFIX)
    app.router.add_route("*", "/{tail:.*}", _proxy)
    return app


async def serve(state: GateState, host: str, port: int, on_ready) -> None:
    """Run the gate until cancelled; ``on_ready(port)`` once it accepts connections."""
    runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    on_ready(bound)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
