"""Drive the metadata service from the harness or a test: start it, and its control API.

    server = start_imds(moto_url=moto.url)          # a ServerProcess, ready
    imds = ImdsClient(server.url)
    inst = imds.add_instance(role="app-role", availability_zone="us-east-1b")
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.endpoint(inst["instance_id"])

    # Or serve one instance at the root of its own port, as 169.254.169.254 serves it:
    inst = imds.add_instance(role="app-role", listener=True)
    imds.listener_url(inst["instance_id"])          # "http://127.0.0.1:<listener_port>/"
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from fakes._proc import ServerProcess
from sim.errors import FakeFailed

__all__ = ["ImdsClient", "start_imds"]

PREFIX = "/__bootstorm"


def start_imds(moto_url: str | None = None, config: dict | None = None, port: int = 0,
               log_path: str | None = None, moto_caller: tuple[str, str] | None = None) -> ServerProcess:
    """Start ``python -m fakes.imds`` and return it once it reported ready.

    Without ``moto_url`` role credentials are made up locally (no AWS API accepts them).
    ``moto_caller`` is the (access key id, secret) AssumeRole is signed with: needed once moto
    enforces IAM (pass the harness key from `fakes.seed`)."""
    args = ["--port", str(port)]
    env = None
    if moto_caller is not None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["IMDS_MOTO_ACCESS_KEY_ID"], env["IMDS_MOTO_SECRET_ACCESS_KEY"] = moto_caller
    if moto_url:
        args += ["--moto", moto_url]
    path = None
    if config is not None:
        fd, path = tempfile.mkstemp(prefix="imds-config-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(config, fh)
        args += ["--config", path]
    try:
        return ServerProcess.python_module("imds", "fakes.imds", *args, env=env, log_path=log_path).start()
    finally:
        if path:
            os.unlink(path)  # read once at startup; reset() uses the copy in memory


class ImdsClient:
    """The control API of one metadata service (stdlib only, so bootstraps can use it too)."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{PREFIX}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            exc.close()
            raise FakeFailed(f"IMDS control {method} {path}: HTTP {exc.code}: {detail}") from None
        except OSError as exc:
            raise FakeFailed(f"IMDS control {method} {path} at {self.url}: {exc}") from None

    def endpoint(self, instance_id: str | None = None) -> str:
        """What ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` should say for this instance."""
        return f"{self.url}/" if instance_id is None else f"{self.url}/{instance_id}/"

    def health(self) -> dict:
        return self._call("GET", "/health")

    def add_instance(self, instance_id: str | None = None, listener: bool = False, **spec) -> dict:
        """Add an instance (fields of `fakes.imds.model.Instance`): availability_zone,
        instance_type, ami_id, local_ipv4, mac, public_ipv4, public_keys, security_groups,
        role, user_data (str, or bytes: sent base64), tags, settings ({...}), at_root, ...
        Returns its description.

        ``listener=True`` also serves it at the ROOT paths of its own 127.0.0.1 port
        (``listener_port`` in the description; see `listener_url`), as EC2's
        169.254.169.254 does; removing the instance closes that port."""
        if instance_id is not None:
            spec["instance_id"] = instance_id
        if listener:
            spec["listener"] = True
        return self._call("POST", "/instances", _encoded(spec))

    def listener_url(self, instance_id: str) -> str:
        """``http://127.0.0.1:<port>/`` of the instance's own root listener (added with
        ``listener=True``); raises FakeFailed when it has none."""
        port = self.instance(instance_id).get("listener_port")
        if not port:
            raise FakeFailed(f"IMDS instance {instance_id} has no root listener; add it with listener=True")
        host = urllib.parse.urlsplit(self.url).hostname or "127.0.0.1"
        return f"http://{host}:{port}/"

    def add_instances(self, specs: list[dict]) -> list[dict]:
        """Add a fleet in one call (each spec as for `add_instance`); descriptions in order."""
        return self._call("POST", "/instances", {"instances": [_encoded(s) for s in specs]})["instances"]

    def remove_instance(self, instance_id: str) -> None:
        self._call("DELETE", f"/instances/{instance_id}")

    def instances(self) -> list[dict]:
        return self._call("GET", "/instances")["instances"]

    def instance(self, instance_id: str) -> dict:
        return self._call("GET", f"/instances/{instance_id}")

    def configure(self, instance_id: str | None = None, **settings) -> dict:
        """Change settings (see `fakes.imds.model.Settings`) of one instance, or of all
        instances and the defaults for new ones."""
        body = dict(settings)
        if instance_id is not None:
            body["instance"] = instance_id
        return self._call("POST", "/settings", body)

    def defaults(self) -> dict:
        return self._call("GET", "/settings")

    # The usual knobs by name.
    def set_limit(self, rate: float | None, instance_id: str | None = None, mode: str = "429") -> dict:
        return self.configure(instance_id, rate_limit=rate, throttle_mode=mode)

    def require_tokens(self, required: bool = True, instance_id: str | None = None) -> dict:
        return self.configure(instance_id, http_tokens="required" if required else "optional")

    def set_endpoint(self, enabled: bool, instance_id: str | None = None) -> dict:
        return self.configure(instance_id, http_endpoint="enabled" if enabled else "disabled")

    def set_outage(self, outage: bool, instance_id: str | None = None) -> dict:
        return self.configure(instance_id, outage=outage)

    def set_latency(self, seconds: float, instance_id: str | None = None) -> dict:
        return self.configure(instance_id, latency=seconds)

    def set_token_ttl_cap(self, seconds: int | None, instance_id: str | None = None) -> dict:
        return self.configure(instance_id, token_ttl_cap=seconds)

    def expire_tokens(self, instance_id: str | None = None) -> int:
        return self._call("POST", "/expire-tokens", {"instance": instance_id})["expired"]

    def expire_credentials(self, instance_id: str | None = None) -> list[str]:
        return self._call("POST", "/expire-credentials", {"instance": instance_id})["expired"]

    def credentials(self, since: int = 0) -> list[dict]:
        """Every key issued: access_key_id, instance_id, role, issued_at, expiration (epoch s)."""
        return self._call("GET", f"/credentials?since={since}")["credentials"]

    def log(self, since: int = 0, instance_id: str | None = None) -> list[dict]:
        query = f"?since={since}" + (f"&instance={instance_id}" if instance_id else "")
        return self._call("GET", f"/log{query}")["entries"]

    def reset(self) -> None:
        self._call("POST", "/reset")

    def signing_certificate(self) -> str:
        """PEM of the fake's TEST certificate (identity documents verify against it, not AWS's)."""
        req = urllib.request.Request(f"{self.url}{PREFIX}/signing-certificate")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read().decode()
        except OSError as exc:
            raise FakeFailed(f"IMDS control GET /signing-certificate at {self.url}: {exc}") from None

    # Events EC2 announces through the metadata, by name.
    def interrupt_spot(self, instance_id: str, action: str = "terminate", at: float | None = None) -> dict:
        """Post a spot interruption notice (spot/instance-action; at: epoch s, default now + 120)."""
        return self.configure(instance_id, spot_action=action, spot_action_time=at)

    def set_hops(self, hops: int, hop_limit: int | None = None, instance_id: str | None = None) -> dict:
        """Put the instance's software ``hops`` hops away (2: a container); token answers are
        lost when hops > ``http_put_response_hop_limit``."""
        changes: dict = {"hops": hops}
        if hop_limit is not None:
            changes["http_put_response_hop_limit"] = hop_limit
        return self.configure(instance_id, **changes)


def _encoded(spec: dict) -> dict:
    """user_data given as bytes travels as user_data_base64 (JSON has no bytes)."""
    data = spec.get("user_data") if isinstance(spec, dict) else None
    if isinstance(data, (bytes, bytearray)):
        spec = dict(spec)
        spec["user_data_base64"] = base64.b64encode(bytes(data)).decode()
        del spec["user_data"]
    return spec
