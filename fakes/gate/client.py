"""Start the gate as its own process, and drive its control API from plain Python.

``GateClient`` uses only the standard library, so the harness, engines, tests and reference
bootstraps can use it without an event loop. A 400 from the gate (bad control input) raises
``InvalidInput`` carrying the gate's message; anything else going wrong raises ``FakeFailed``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator

from fakes._proc import ServerProcess
from fakes.gate.server import CONTROL_PREFIX
from sim.errors import FakeFailed, InvalidInput

__all__ = ["GateClient", "start_gate"]


def start_gate(upstream_url: str, *, seed: int = 0, log_capacity: int | None = None, ready_timeout: float = 60.0,
               verify_signatures: bool = True) -> ServerProcess:
    """Start ``python -m fakes.gate`` in front of ``upstream_url`` and wait until it is ready."""
    args = ["--upstream", upstream_url, "--port", "0", "--seed", str(seed)]
    if not verify_signatures:
        args.append("--no-verify-signatures")
    if log_capacity is not None:
        args += ["--log-capacity", str(log_capacity)]
    server = ServerProcess(name="gate", argv=[sys.executable, "-m", "fakes.gate", *args], ready_timeout=ready_timeout)
    return server.start()


def _expiration(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    return value


class GateClient:
    """The control API of one gate at ``url`` (its base URL, as ``ServerProcess.url``)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = f"{self.url}{CONTROL_PREFIX}{path}"
        if query:
            clean = {k: v for k, v in query.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", "")
            except ValueError:
                message = ""
            if exc.code == 400:
                raise InvalidInput(f"gate control {method} {path}: {message}") from None
            raise FakeFailed(f"gate control {method} {path} answered {exc.code}: {message}") from None
        except OSError as exc:
            raise FakeFailed(f"gate at {self.url} did not answer {method} {path}: {exc}") from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    # rules ---------------------------------------------------------------------------------
    def add_rule(self, kind: str, service: str, operation: str | None = None, **fields: Any) -> str:
        """Add a rule (see ``fakes.gate.rules``); returns its id for ``remove_rule``."""
        spec = {"kind": kind, "service": service, "operation": operation, **fields}
        return self._call("POST", "/rules", {k: v for k, v in spec.items() if v is not None})["rule"]["id"]

    def set_quota(self, service: str, rate: float, burst: float | None = None, operation: str | None = None, **match: Any) -> str:
        return self.add_rule("quota", service, operation, rate=rate, burst=burst, **match)

    def set_error_rate(self, service: str, probability: float, status: int = 500, operation: str | None = None, **match: Any) -> str:
        return self.add_rule("error_rate", service, operation, probability=probability, status=status, **match)

    def fail_first(self, service: str, count: int, status: int = 500, operation: str | None = None, **match: Any) -> str:
        return self.add_rule("fail_first", service, operation, count=count, status=status, **match)

    def outage(self, service: str, operation: str | None = None, **match: Any) -> str:
        return self.add_rule("outage", service, operation, **match)

    def deny(self, service: str, operation: str | None = None, **match: Any) -> str:
        return self.add_rule("deny", service, operation, **match)

    def rules(self) -> list[dict[str, Any]]:
        return self._call("GET", "/rules")["rules"]

    def remove_rule(self, rule_id: str) -> None:
        self._call("DELETE", f"/rules/{urllib.parse.quote(rule_id)}")

    def clear_rules(self, kind: str | None = None, service: str | None = None) -> int:
        return self._call("DELETE", "/rules", query={"kind": kind, "service": service})["removed"]

    # credentials ---------------------------------------------------------------------------
    def register_key(
        self,
        access_key: str,
        instance_id: str | None = None,
        expiration: dt.datetime | float | str | None = None,
        expires_in: float | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
    ) -> dict[str, Any]:
        """Map ``access_key`` to an instance and (optionally) an expiration the gate enforces.

        ``secret_key`` (and ``session_token``) let the gate check the key's signatures; keys
        moto issued are looked up in moto by the gate itself, so they need neither."""
        spec: dict[str, Any] = {"access_key": access_key, "instance_id": instance_id}
        if secret_key is not None:
            spec["secret_key"] = secret_key
        if session_token is not None:
            spec["session_token"] = session_token
        if expiration is not None:
            spec["expiration"] = _expiration(expiration)
        if expires_in is not None:
            spec["expires_in"] = expires_in
        return self._call("POST", "/credentials", spec)["credential"]

    def expire_credentials(self, access_key: str | None = None, instance_id: str | None = None) -> int:
        """Expire one key, an instance's keys, or (with neither) every key, now."""
        spec = {k: v for k, v in {"access_key": access_key, "instance_id": instance_id}.items() if v is not None}
        return self._call("POST", "/credentials/expire", spec)["expired"]

    def credentials(self) -> list[dict[str, Any]]:
        return self._call("GET", "/credentials")["credentials"]

    # request log ---------------------------------------------------------------------------
    def log(self, since: int = 0, limit: int = 10_000, **filters: Any) -> dict[str, Any]:
        """One page: ``entries`` after cursor ``since``, ``next`` cursor, ``dropped`` count."""
        return self._call("GET", "/log", query={"since": since, "limit": limit, **filters})

    def entries(self, since: int = 0, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every held entry after ``since``, page by page."""
        while True:
            page = self.log(since, **filters)
            yield from page["entries"]
            if not page["entries"] or page["next"] == since:
                return
            since = page["next"]

    def series(self, bucket_s: float = 1.0, start: float | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Per-bucket offered/ok/throttled/failed counts and latency percentiles of held entries."""
        return self._call("GET", "/series", query={"bucket_s": bucket_s, "start": start, **filters})["series"]

    def counters(self) -> list[dict[str, Any]]:
        return self._call("GET", "/counters")["counters"]

    def reset(self) -> None:
        self._call("POST", "/reset")
