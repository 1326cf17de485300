"""The AWS API gate: a reverse proxy in front of moto adding quotas, faults and a request log.

    start_gate(moto_url) -> ServerProcess      the gate as its own process (``python -m fakes.gate``)
    GateClient(gate_url)                       its control API (stdlib only)
    GATE_CAPACITY_RPS, PROXIED_CAPACITY_RPS    requests/s one gate answers itself / forwards to moto

Point AWS clients at the gate's URL as ``endpoint_url`` (or ``AWS_ENDPOINT_URL``); they talk to
moto through it unchanged until a rule, an expired key or an outage makes the gate answer with
the error AWS would send. Modules: ``protocol`` (what a request is, AWS error wire formats),
``sigv4`` (authentication as AWS checks it), ``rules`` (the decision), ``credentials``
(key -> instance, secret, expiry), ``requestlog``,
``server`` (the proxy), ``control`` (the control API), ``client``.
"""

from fakes.gate.client import GateClient, start_gate
from fakes.gate.protocol import INSTANCE_HEADER
from fakes.gate.server import CONTROL_PREFIX, GATE_CAPACITY_RPS, PROXIED_CAPACITY_RPS

__all__ = ["GateClient", "start_gate", "GATE_CAPACITY_RPS", "PROXIED_CAPACITY_RPS", "CONTROL_PREFIX", "INSTANCE_HEADER"]
