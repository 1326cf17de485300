"""Network-namespace isolation for tests: skip without root, and one isolated instance at a time.

    def test_x(isolated):
        inst = isolated("i-0123456789abcdef0", user_data="#!/bin/sh")
        done = inst.run(["curl", "-s", "http://169.254.169.254/latest/meta-data/instance-id"])

``inst.run`` runs an unmodified command inside the instance's namespace with the environment
the exec engine gives it (plus PATH). Everything is removed at the end of the test.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

import pytest

from sim.engines.exec.isolation import NetnsIsolation
from sim.engines.exec.netns import list_namespaces, netns_unavailable

__all__ = ["netns_required", "IsolatedInstance", "isolated", "namespaces_of"]

_WHY: list[str | None] = []


def _why() -> str | None:
    if not _WHY:
        _WHY.append(netns_unavailable())
    return _WHY[0]


@pytest.fixture
def netns_required():
    why = _why()
    if why is not None:
        pytest.skip(f"needs root and network namespaces: {why}")


def namespaces_of(pid: int) -> list[str]:
    """The bootstorm namespaces a harness process with ``pid`` owns right now."""
    return list_namespaces(f"bootstorm-{pid}-")


@dataclass
class IsolatedInstance:
    instance_id: str
    env: dict[str, str]
    prefix: list[str]
    namespace: str
    home: str
    extra: dict = field(default_factory=dict)

    def run(self, argv: list[str], timeout: float = 60.0, python: str | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
        full = {**self.env, "PATH": os.environ.get("PATH", os.defpath), "HOME": self.home,
                **(env or {})}
        return subprocess.run([*self.prefix, *argv], env=full, capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture
def isolated(netns_required, fake_stack, tmp_path):
    isolation = NetnsIsolation()
    isolation.setup(fake_stack)
    made = []

    def add(instance_id: str, **spec) -> IsolatedInstance:
        env, prefix = isolation.add(instance_id, fake_stack, **spec)
        home = tmp_path / instance_id
        home.mkdir()
        made.append(instance_id)
        return IsolatedInstance(instance_id, env, prefix, isolation.spaces[instance_id].name, str(home))

    add.isolation = isolation
    add.stack = fake_stack
    try:
        yield add
    finally:
        isolation.close()
        fake_stack.imds_listeners = False
