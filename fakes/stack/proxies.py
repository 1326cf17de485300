"""The stack's Toxiproxy proxies, driven with the ``toxiproxy-python`` client.

One proxy per network path a bootstrap uses, so a partition of one path leaves the others up:
``imds`` in front of the metadata service, one per AWS service (``secretsmanager``, ``ssm``,
``sts``, ``iam``) plus ``aws`` (every other service, via ``AWS_ENDPOINT_URL``) in front of the
gate, and ``registry`` and ``telemetry`` in front of the sinks.

``toxiproxy-python`` keeps the server address in class attributes of ``APIConsumer``; this
module points it at our server under a lock before every call, so several stacks (or a test's
own client) in one process do not send each other's toxics to the wrong server.
"""

from __future__ import annotations

import itertools
import threading

from fakes._proc import LOOPBACK
from sim.errors import FakeFailed

__all__ = ["Proxies", "AWS_SERVICE_PROXIES", "GENERAL_AWS_PROXY"]

AWS_SERVICE_PROXIES = ("secretsmanager", "ssm", "sts", "iam")
GENERAL_AWS_PROXY = "aws"
_API_LOCK = threading.Lock()


class Proxies:
    """Proxies on one Toxiproxy server at ``127.0.0.1:api_port``; toxics by generated name."""

    def __init__(self, api_port: int) -> None:
        self.api_port = api_port
        self.ports: dict[str, int] = {}
        self._names = itertools.count(1)

    def _client(self):
        from toxiproxy import Toxiproxy

        client = Toxiproxy()
        client.update_api_consumer(LOOPBACK, self.api_port)
        return client

    def _proxy(self, name: str):
        from toxiproxy.proxy import Proxy

        if name not in self.ports:
            raise FakeFailed(f"no proxy named {name!r}; the stack has {sorted(self.ports)}")
        return Proxy(name=name, upstream="", enabled=True, listen=f"{LOOPBACK}:{self.ports[name]}")

    def create(self, name: str, upstream_port: int) -> int:
        """Create proxy ``name`` to ``127.0.0.1:upstream_port`` on a free port; returns that port."""
        with _API_LOCK:
            proxy = self._client().create(upstream=f"{LOOPBACK}:{upstream_port}", name=name, listen=f"{LOOPBACK}:0")
        port = int(str(proxy.listen).rsplit(":", 1)[1])
        if port == 0:
            raise FakeFailed(f"toxiproxy created proxy {name!r} but reported no listen port: {proxy.listen!r}")
        self.ports[name] = port
        return port

    def url(self, name: str) -> str:
        return f"http://{LOOPBACK}:{self.ports[name]}"

    def add_toxic(self, proxy: str, toxic_type: str, stream: str, attributes: dict) -> str:
        """Add a toxic to ``proxy``; returns its name for ``remove_toxic``."""
        name = f"bootstorm_{toxic_type}_{stream}_{next(self._names)}"
        with _API_LOCK:
            self._client()
            try:
                self._proxy(proxy).add_toxic(type=toxic_type, name=name, stream=stream, attributes=attributes)
            except Exception as exc:  # toxiproxy-python raises its own and requests' errors
                raise FakeFailed(f"toxiproxy refused {toxic_type} toxic on {proxy!r}: {exc}") from None
        return name

    def remove_toxic(self, proxy: str, name: str) -> None:
        from toxiproxy.exceptions import NotFound

        with _API_LOCK:
            self._client()
            try:
                self._proxy(proxy).destroy_toxic(name)
            except NotFound:
                pass  # already gone (a reset removed it): lifting is idempotent

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        with _API_LOCK:
            self._client().reset()
