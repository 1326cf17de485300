"""A small valid scenario to mutate per test, and helpers to load it and collect its problems.

``BASE_YAML`` is written by hand so tests can point at its line numbers; ``base()`` returns the
same scenario as a fresh dict a test may edit, and ``problems_of(data)`` validates it and
returns the rendered problems (or fails the test when it is valid).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from sim.errors import InvalidScenario
from sim.scenario import Scenario, parse_scenario

__all__ = [
    "BASE_YAML",
    "base",
    "dump",
    "write",
    "problems_of",
    "problems_of_text",
    "load_text",
    "messages",
    "line_of",
]

# Line numbers matter: tests assert that a problem points at the right line of this text.
BASE_YAML = """\
name: tiny
description: a small scenario for tests
run:
  seed: 3
  horizon: 10m
fleet:
  size: 50
  arrival: {kind: ramp, over: 30s}
  os_boot: {kind: lognormal, median: 20s, p99: 40s}
dependencies:
  imds:
    service_time: 2ms
    operations:
      PutToken: {}
      GetCredentials: {}
  secretsmanager:
    concurrency: 100
    service_time: {kind: lognormal, median: 20ms, p99: 80ms}
    operations:
      GetSecretValue: {quota: {rate: 50, burst: 50}}
bootstrap:
  steps:
    - name: token
      call: imds.PutToken
      provides: imds_token
      timeout: 1s
    - name: creds
      call: imds.GetCredentials
      after: [token]
      provides: credentials
      retry: {kind: fixed, delay: 1s, max_attempts: 3}
    - name: secret
      call: secretsmanager.GetSecretValue
      after: [creds]
      timeout: 5s
      retry: {kind: aws_standard}
      mark: secret_fetched
    - name: start_app
      work: {kind: uniform, low: 1s, high: 3s}
      after: [secret]
      marks: [app_started, ready]
faults:
  - {at: 1m, for: 30s, target: secretsmanager, kind: latency, latency: 200ms}
slos:
  - bootstrap_success_rate >= 99%
  - time_to_ready.p95 <= 2m
"""

_BASE = yaml.safe_load(BASE_YAML)


def base() -> dict:
    """A fresh, mutable copy of the base scenario as plain data."""
    return copy.deepcopy(_BASE)


def dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def write(tmp_path: Path, data: dict | str, name: str = "scenario.yaml") -> Path:
    """Write ``data`` (a dict, or YAML text as is) to ``tmp_path/name``; returns the path."""
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else dump(data))
    return path


def load_text(text: str, overrides=(), file: str = "s.yaml") -> Scenario:
    return parse_scenario(text, file, overrides)


def problems_of_text(text: str, overrides=(), file: str = "s.yaml") -> InvalidScenario:
    """The InvalidScenario that ``text`` raises (the test fails if it validates)."""
    with pytest.raises(InvalidScenario) as info:
        parse_scenario(text, file, overrides)
    return info.value


def problems_of(data: dict, overrides=(), file: str = "s.yaml") -> InvalidScenario:
    return problems_of_text(dump(data), overrides, file)


def messages(exc: InvalidScenario) -> list[str]:
    """Each problem rendered the way the CLI prints it."""
    return [p.render(exc.file) for p in exc.problems]


def line_of(text: str, fragment: str, after: int = 0) -> int:
    """1-based number of the first line of ``text`` below line ``after`` containing ``fragment``."""
    for number, line in enumerate(text.splitlines(), 1):
        if number > after and fragment in line:
            return number
    raise AssertionError(f"{fragment!r} is not in the text")
