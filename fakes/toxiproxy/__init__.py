"""A Toxiproxy-compatible proxy server: the Toxiproxy HTTP API and its toxics, on loopback only.

The Go ``toxiproxy-server`` is not installable from the registries this project reaches, so this
package serves the same API (``api.go`` of Shopify/toxiproxy: routes, status codes, JSON shapes)
with an asyncio data plane. When a real ``toxiproxy-server`` is on PATH, ``start_toxiproxy``
runs that instead. Drive either with the ``toxiproxy-python`` client (package ``toxiproxy``) or
``chaostoolkit-toxiproxy`` (package ``chaostoxi``)::

    with start_toxiproxy() as server:
        client = toxiproxy_client(server)
        proxy = client.create(upstream="127.0.0.1:5432", name="db")
        proxy.add_toxic(type="latency", attributes={"latency": 100})

Supported toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop.
"""

from __future__ import annotations

import shutil

from fakes._proc import LOOPBACK, ServerProcess
from fakes.toxiproxy._cli import main

__all__ = [
    "main",
    "start_toxiproxy",
    "toxiproxy_command",
    "toxiproxy_client",
    "chaostoolkit_configuration",
]

BINARY = "toxiproxy-server"


class _ToxiproxyProcess(ServerProcess):
    """A ServerProcess whose start() is a no-op once running.

    ``start_toxiproxy`` returns a started server; ``ServerProcess.__enter__`` calls start()
    again, which would launch a second process and orphan the first.
    """

    def start(self) -> "ServerProcess":
        return self if self.alive() else super().start()


def toxiproxy_command(port: int = 0, *, use_binary: bool | None = None) -> ServerProcess:
    """The (not yet started) server process: the real binary when found (or asked), else ours.

    ``use_binary``: None picks the binary when ``shutil.which`` finds it; False forces this
    package's server; True requires the binary (FileNotFoundError when it is not on PATH).
    """
    binary = shutil.which(BINARY) if use_binary is not False else None
    if use_binary and binary is None:
        raise FileNotFoundError(f"{BINARY} was asked for but is not on PATH")
    if binary is not None:
        return _ToxiproxyProcess.python_module(
            "toxiproxy", "fakes.toxiproxy._binary", "--binary", binary, "--port", str(port)
        )
    return _ToxiproxyProcess.python_module(
        "toxiproxy", "fakes.toxiproxy", "--host", LOOPBACK, "--port", str(port)
    )


def start_toxiproxy(port: int = 0, *, use_binary: bool | None = None) -> ServerProcess:
    """Start a Toxiproxy server on 127.0.0.1 (port 0: the OS picks) and return once it is ready."""
    return toxiproxy_command(port, use_binary=use_binary).start()


def toxiproxy_client(server: ServerProcess):
    """A ``toxiproxy.Toxiproxy`` client aimed at ``server``.

    The client keeps its endpoint in class attributes (``toxiproxy.api.APIConsumer``), so this
    points every client in the process at ``server``.
    """
    from toxiproxy import Toxiproxy

    client = Toxiproxy()
    client.update_api_consumer(LOOPBACK, server.port)
    return client


def chaostoolkit_configuration(server: ServerProcess) -> dict:
    """The ``configuration`` dict chaostoolkit-toxiproxy's actions and probes expect."""
    return {"toxiproxy_host": LOOPBACK, "toxiproxy_port": server.port}
