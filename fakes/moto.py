"""moto as its own server process on a free loopback port.

moto answers Secrets Manager, SSM, STS and IAM like AWS. It does not print our ready line, so
it is started on a port we pick and polled until it answers its own API.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

from fakes._proc import LOOPBACK, ServerProcess, free_port
from sim.errors import FakeFailed

__all__ = ["start_moto", "moto_reset", "moto_enforce_iam", "DUMMY_ENV"]

# Credentials and config a moto client needs; real cloud credentials never reach moto.
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _scrubbed_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_ENV)
    # IAM enforcement starts off; moto_enforce_iam() switches it on after seeding.
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    return env


def start_moto(attempts: int = 3, log_path: str = os.devnull) -> ServerProcess:
    """Start ``python -m moto.server`` on 127.0.0.1 and wait until its API answers.

    moto logs every request on stderr; ``log_path`` says where that goes.
    """
    last: Exception | None = None
    for _ in range(attempts):  # another process may grab the free port before moto binds it
        port = free_port()
        server = ServerProcess(
            name="moto",
            argv=[sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
            env=_scrubbed_env(),
            fixed_port=port,
            log_path=log_path,
        )
        try:
            server.start()
        except FakeFailed as exc:
            last = exc
            continue
        _wait_api(server.url)
        return server
    raise FakeFailed(f"moto server did not start: {last}")


def _wait_api(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise FakeFailed(f"moto at {url} did not answer its API within {timeout:.0f}s")
        time.sleep(0.1)


def _post(url: str, body: bytes = b"") -> dict:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


def moto_reset(url: str) -> None:
    """Forget every resource moto holds (between tests)."""
    _post(f"{url}/moto-api/reset")


def moto_enforce_iam(url: str, enforce: bool = True) -> None:
    """Switch IAM authentication and authorization on (or off) for every later request.

    Seed first: once enforcement is on, moto checks every signature against IAM access keys
    and every action against IAM policies, as AWS does.
    """
    _post(f"{url}/moto-api/reset-auth", b"0" if enforce else b"inf")
