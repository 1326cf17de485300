"""Start the sinks and read them from the harness (stdlib only).

    server = start_sinks()
    sinks = SinksClient(server.url)
    sinks.register("i-0abc", idempotency_key="boot-1")
    sinks.telemetry("i-0abc", "agent", "heartbeat")
    sinks.summary()["i-0abc"]["first_agent_event"]
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from fakes._proc import ServerProcess
from sim.errors import FakeFailed

__all__ = ["SinksClient", "SinkResponse", "start_sinks"]


def start_sinks(port: int = 0, log_path: str | None = None) -> ServerProcess:
    """Start ``python -m fakes.sinks`` and return it once it reported ready."""
    return ServerProcess.python_module("sinks", "fakes.sinks", "--port", str(port), log_path=log_path).start()


class SinkResponse(dict):
    """A JSON answer that remembers its HTTP status (409 and 428 are answers, not failures)."""

    status: int = 0


class SinksClient:
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
              ok: tuple[int, ...] = ()) -> SinkResponse:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                out, status = SinkResponse(json.loads(resp.read() or b"{}")), resp.status
        except urllib.error.HTTPError as exc:
            detail = exc.read()
            exc.close()
            if exc.code not in ok:
                raise FakeFailed(f"sinks {method} {path}: HTTP {exc.code}: {detail.decode(errors='replace')}") from None
            out, status = SinkResponse(json.loads(detail or b"{}")), exc.code
        except OSError as exc:
            raise FakeFailed(f"sinks {method} {path} at {self.url}: {exc}") from None
        out.status = status
        return out

    def register(self, instance_id: str, idempotency_key: str | None = None,
                 expected_version: int | None = None, **data) -> SinkResponse:
        """201 new, 200 duplicate; 409 (CAS conflict) and 428 come back as answers too."""
        body = {"instance_id": instance_id, **data}
        if expected_version is not None:
            body["expected_version"] = expected_version
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/register", body, headers, ok=(409, 428))

    def deregister(self, instance_id: str, expected_version: int | None = None) -> SinkResponse:
        query = "" if expected_version is None else f"?expected_version={expected_version}"
        return self._call("DELETE", f"/register/{instance_id}{query}", ok=(404, 409))

    def membership(self) -> dict:
        return self._call("GET", "/membership")

    def telemetry(self, instance_id: str, source: str, kind: str = "metric", **data) -> SinkResponse:
        return self._call("POST", "/telemetry", {"instance_id": instance_id, "source": source, "kind": kind, **data})

    def events(self, since: int = 0, instance_id: str | None = None, kind: str | None = None) -> list[dict]:
        query = f"?since={since}"
        query += f"&instance={instance_id}" if instance_id else ""
        query += f"&type={kind}" if kind else ""
        return self._call("GET", f"/events{query}")["events"]

    def summary(self) -> dict[str, dict]:
        return self._call("GET", "/summary")["instances"]

    def settings(self, **changes) -> dict:
        """cas_required (bool), latency (s), fail_status (HTTP status or 0)."""
        return self._call("POST", "/__sinks/settings", changes)

    def health(self) -> dict:
        return self._call("GET", "/health")

    def reset(self) -> None:
        self._call("POST", "/__sinks/reset", {})
