"""The AWS API gate: an aiohttp reverse proxy in front of moto that adds what moto lacks.

Every request not under the control prefix is identified (protocol, service, operation, access
key, instance), checked against the rules and the credential book, and either answered by the
gate with the real AWS error or forwarded to moto unchanged (method, path, query, headers
including Host, so SigV4 signatures still verify, and body) over one pooled ClientSession.
Each request is recorded in the request log; nothing is printed per request.

The order of the checks is AWS's: the front door (an outage rule), then authentication
(``authenticate``: credentials present and well formed, date within 15 minutes, a key AWS
knows, its session token, not expired, the SigV4 signature recomputed with the key's secret),
then the rules (deny, quotas, injected failures). A key the gate has no secret for is looked up
in moto's state (``/moto-api/data.json``) once, by a fetch that started after the request
arrived, before the request is refused as InvalidClientTokenId / UnrecognizedClientException.
``verify_signatures=False`` (``--no-verify-signatures``) skips authentication but expiry.

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
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

from fakes.gate.control import add_control_routes
from fakes.gate.credentials import CredentialBook
from fakes.gate.protocol import JSON, QUERY, Call, error_body, error_code_of, identify, json_error_from_xml
from fakes.gate.requestlog import DEFAULT_CAPACITY, RequestLog
from fakes.gate.rules import RuleSet
from fakes.gate.sigv4 import (AuthFailure, as_header_signed, check_clock, expected_signature, query_pairs,
                              read_auth, signature_matches)

__all__ = ["GateState", "build_app", "serve", "CONTROL_PREFIX", "GATE_CAPACITY_RPS", "PROXIED_CAPACITY_RPS"]

CONTROL_PREFIX = "/__bootstorm"
# Rounded well down from the benchmark: bootstraps under test share the cores with the fakes.
# Signature checks cost botocore's signer 0.2-0.45 ms a request (430 us measured with a load
# average of 7 on 2 cores; tests/benchmarks/bench_gate.py measured 892 req/s gate-alone then):
# about half the gate's own capacity before the checks, hence 1500, not 2500.
GATE_CAPACITY_RPS = 1500  # answered by the gate itself (throttled, denied, injected failures)
PROXIED_CAPACITY_RPS = 200  # forwarded to one moto process
UPSTREAM_CONNECTIONS = 64
_MAX_UNKNOWN_KEYS = 10_000

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
    verify_signatures: bool = True
    rules: RuleSet = field(init=False)
    credentials: CredentialBook = field(default_factory=CredentialBook)
    log: RequestLog = field(init=False)

    def __post_init__(self) -> None:
        self.upstream = self.upstream.rstrip("/")
        self.rules = RuleSet(rng=random.Random(self.seed))
        self.log = RequestLog(self.log_capacity)
        self.keys_fetched_at = -1.0  # monotonic start of the last fetch of moto's keys
        # Keys a fetch that started after their request arrived did not find: invented by the
        # client (a key is used only after it is issued), so later requests are refused
        # without asking moto again. Registering the key through the control API wins.
        self.unknown_keys: set[str] = set()
        self.prefetches: set[asyncio.Future] = set()
        self.keys_lock: asyncio.Lock | None = None  # made on the serving loop

    def reset(self) -> None:
        self.rules = RuleSet(rng=random.Random(self.seed))
        self.credentials = CredentialBook()
        self.unknown_keys.clear()
        self.log.clear()

    def decide(self, call: Call) -> str | None:
        """The failure the gate answers with, or None to forward to moto (authentication aside)."""
        failure = self.rules.check_front(call)
        if failure is None and self.credentials.is_expired(call.access_key, time.time()):
            failure = "expired"
        return failure or self.rules.check(call, time.monotonic())


async def _fetch_moto_keys(state: GateState, session: aiohttp.ClientSession, arrived: float) -> None:
    """Learn the secrets moto holds, by a fetch that started after ``arrived`` (one at a time)."""
    if state.keys_lock is None:
        state.keys_lock = asyncio.Lock()
    async with state.keys_lock:
        if state.keys_fetched_at >= arrived:
            return  # a fetch that started after this request arrived has just run
        state.keys_fetched_at = time.monotonic()
        try:
            async with session.get(state.upstream + "/moto-api/data.json") as answer:
                data = json.loads(await answer.read()) if answer.status == 200 else None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            data = None
        state.credentials.learn_moto(data)


def prefetch_moto_keys(state: GateState, session: aiohttp.ClientSession) -> None:
    """Fetch moto's keys soon, in the background. Each call waits for a fetch that starts
    after it; the one fetch that runs next serves a whole burst of registrations."""
    task = asyncio.ensure_future(_fetch_moto_keys(state, session, time.monotonic()))
    state.prefetches.add(task)  # held until done: the loop keeps only weak references
    task.add_done_callback(state.prefetches.discard)


async def authenticate(state: GateState, request: web.Request, body: bytes, arrived: float) -> tuple[str, str | None] | None:
    """(failure kind, message) when AWS would refuse the request's authentication, else None."""
    pairs = query_pairs(request.rel_url.raw_query_string)
    try:
        auth = read_auth(request.headers, pairs)
        check_clock(auth, time.time())
    except AuthFailure as exc:
        return exc.kind, exc.message
    credential = state.credentials.usable(auth.access_key)
    if credential is None and auth.access_key not in state.unknown_keys:
        await _fetch_moto_keys(state, request.app["session"], arrived)
        credential = state.credentials.usable(auth.access_key)
        if credential is None:
            if len(state.unknown_keys) >= _MAX_UNKNOWN_KEYS:
                state.unknown_keys.clear()
            state.unknown_keys.add(auth.access_key)
    if credential is None:
        return "invalid_token", None
    if credential.token is not None and auth.token != credential.token:
        return "invalid_token", None
    if state.credentials.is_expired(auth.access_key, time.time()):
        return "expired", None
    expected = expected_signature(auth, credential.secret, request.method, request.rel_url.raw_path, pairs,
                                  request.headers, body)
    if not signature_matches(auth, expected):
        return "bad_signature", None
    if auth.presigned:  # forwarded header-signed, so moto routes it to the right service
        request["forward_as"] = as_header_signed(auth, credential.secret, credential.token or auth.token,
                                                 request.method, request.rel_url.raw_path, pairs,
                                                 request.headers.get("Host", ""), body)
    return None


def _forward_headers(headers) -> CIMultiDict:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP)


async def _forward(state: GateState, session: aiohttp.ClientSession, request: web.Request, body: bytes):
    path_qs, headers = request.raw_path, _forward_headers(request.headers)
    if "forward_as" in request:
        path_qs, signed = request["forward_as"]
        headers.update(signed)
    async with session.request(
        request.method,
        yarl.URL(state.upstream + path_qs, encoded=True),
        headers=headers,
        data=body if body else None,
        allow_redirects=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
    ) as upstream:
        payload = await upstream.read()
        return upstream.status, _forward_headers(upstream.headers), payload


async def _proxy(request: web.Request) -> web.StreamResponse:
    state: GateState = request.app["state"]
    started = time.perf_counter()
    arrived = time.monotonic()
    wall = time.time()
    body = await request.read()
    call = identify(request.method, request.query_string, request.headers, body)
    if call.instance_id is None:
        call.instance_id = state.credentials.instance_of(call.access_key)
    failure, message = state.rules.check_front(call), None
    if failure is None and state.verify_signatures:
        refused = await authenticate(state, request, body, arrived)
        if refused is not None:
            failure, message = refused
        elif call.instance_id is None:  # learned from moto just now
            call.instance_id = state.credentials.instance_of(call.access_key)
    if failure is None:
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
        status, error_code, error_headers, payload = error_body(failure, call, message)
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
