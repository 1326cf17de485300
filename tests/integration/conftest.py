"""Shared fixtures for integration tests: single fakes, and the whole fakes stack.

Single fakes, one real server process per test module (started on first use, stopped when
the module is done):

    moto_server          moto as its own server
    imds_plain           IMDS with made-up role credentials (the metadata protocol alone)
    imds_moto            IMDS minting real credentials from moto STS for role ``app-role``
    imds                 an `ImdsClient` on ``imds_plain`` (a module may override it, e.g. to
                         point at ``imds_moto``)
    start_imds_server    ``start(**start_imds_kwargs)``: one more IMDS for this test only (its
                         own config, moto or caller key), stopped when the test ends
    sinks_server, sinks  the registry/telemetry sinks, and a client on them reset per test

The whole stack:

    fake_stack_session   one real Stack (moto, gate, IMDS, sinks, toxiproxy) per test session
    fake_stack           the same stack, reset (faults lifted, rules, logs, instances, sink
                         data and toxics cleared) before each test that asks for it
    bootstrap            starts a bootstrap-like Python process that has only an instance's
                         environment (plus PATH, and HOME in a temporary directory) and runs
                         boto3 calls on request

Only tests that ask for these fixtures start anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from fakes.imds import ImdsClient, start_imds
from fakes.moto import start_moto
from fakes.sinks import SinksClient, start_sinks
from fakes.stack import Stack
from tests.integration._imds_helpers import create_role

STACK_CONFIG = {
    "secrets": {"app/db-password": None, "app/api-key": "not-a-random-value"},
    "parameters": {"/app/config": '{"feature": true}'},
    "role": {"name": "bootstrap-role"},
}

# A minimal bootstrap: one JSON command per stdin line, one JSON answer per stdout line. The
# secret value never leaves the process: only its SHA-256 does.
_DRIVER = r'''
import hashlib, json, sys, time
import boto3
from botocore.config import Config

cfg = Config(connect_timeout=2, read_timeout=float(sys.argv[1]), retries={"mode": "standard", "total_max_attempts": 1})
session = boto3.session.Session()
clients = {}

def client(name, fresh=False):
    global session
    if fresh:
        session = boto3.session.Session()
        clients.clear()
    if name not in clients:
        clients[name] = session.client(name, config=cfg)
    return clients[name]

def run(cmd):
    op, fresh = cmd["op"], cmd.get("fresh", False)
    if op == "secret":
        value = client("secretsmanager", fresh).get_secret_value(SecretId=cmd["name"])["SecretString"]
        return {"sha256": hashlib.sha256(value.encode()).hexdigest()}
    if op == "parameter":
        return {"value": client("ssm", fresh).get_parameter(Name=cmd["name"])["Parameter"]["Value"]}
    if op == "identity":
        return {"arn": client("sts", fresh).get_caller_identity()["Arn"]}
    raise ValueError(op)

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    started = time.monotonic()
    try:
        out = {"ok": True, **run(cmd)}
    except Exception as exc:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
        out = {"ok": False, "error_type": type(exc).__name__, "error_code": code, "message": str(exc)[:300]}
    out["elapsed"] = time.monotonic() - started
    print(json.dumps(out), flush=True)
'''


class Bootstrap:
    """A running driver process; ``call(op, ...)`` sends one command and waits for its answer."""

    def __init__(self, env: dict[str, str], home: str, read_timeout: float = 2.0) -> None:
        os.makedirs(home, exist_ok=True)
        self.env = dict(env, HOME=home, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, str(read_timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
            cwd=home,
        )
        assert json.loads(self._readline(60))["ready"]

    def _readline(self, timeout: float) -> str:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            self.proc.kill()
            raise AssertionError(f"bootstrap driver gave no answer within {timeout}s: {self.proc.stderr.read()[-2000:]}")
        return box[0]

    def call(self, op: str, timeout: float = 60.0, **fields) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._readline(timeout))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def _serving(server):
    """Hand a started fake to the tests; stop it (process group and all) when they are done."""
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_server():
    yield from _serving(start_moto())


@pytest.fixture(scope="module")
def imds_plain():
    yield from _serving(start_imds())


@pytest.fixture(scope="module")
def imds_moto(moto_server):
    create_role(moto_server.url)
    yield from _serving(start_imds(moto_url=moto_server.url))


@pytest.fixture
def imds(imds_plain) -> ImdsClient:
    return ImdsClient(imds_plain.url)


@pytest.fixture
def start_imds_server():
    started = []

    def start(**kwargs):
        started.append(start_imds(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.stop()  # a no-op for one the test already stopped


@pytest.fixture(scope="module")
def sinks_server():
    yield from _serving(start_sinks())


@pytest.fixture
def sinks(sinks_server) -> SinksClient:
    client = SinksClient(sinks_server.url)
    client.reset()
    return client


@pytest.fixture(scope="session")
def fake_stack_session():
    stack = Stack(STACK_CONFIG)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def fake_stack(fake_stack_session):
    fake_stack_session.reset()
    yield fake_stack_session


@pytest.fixture
def bootstrap(fake_stack, tmp_path, request):
    """``bootstrap(instance_id=None, read_timeout=2.0, stack=None) -> Bootstrap``.

    The instance is added to ``stack`` (default: the session's, reset for this test)."""
    started: list[Bootstrap] = []

    def make(instance_id: str | None = None, read_timeout: float = 2.0, stack=None) -> Bootstrap:
        iid = instance_id or f"i-{abs(hash(request.node.name)) % 16**12:012x}{len(started):05x}"
        env = (stack or fake_stack).add_instance(iid)
        driver = Bootstrap(env, str(tmp_path / f"home-{iid}"), read_timeout)
        driver.instance_id = iid
        started.append(driver)
        return driver

    yield make
    for driver in started:
        driver.close()
