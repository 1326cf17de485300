"""How an instance's process reaches the fakes: ``netns`` (its own network namespace) or ``env``.

``env``: the process shares the harness's network; the fakes' loopback URLs are in its
environment, and its IMDS identity is at ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (a base path
``/<instance-id>/``). SDKs honour that variable; scripts that hard-code 169.254.169.254 do not.

``netns``: the process runs in its own network namespace (`sim.engines.exec.netns`) whose
``169.254.169.254:80`` and ``[fd00:ec2::254]:80`` are its own IMDS identity at the root path
(the IMDS's per-instance root listener, through `sim.engines.exec.forwarder`), and whose
``127.0.0.1:<port>`` for each Toxiproxy proxy of the AWS APIs and the sinks reaches that
proxy on the host, the same port number as in the environment, so the endpoint variables are
unchanged. ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` is ``http://169.254.169.254/``, EC2's own
address and the SDKs' default. Nothing else is reachable: no other interface, no route.

    isolation = choose_isolation("auto")         # NetnsIsolation where possible, else EnvIsolation
    isolation.setup(stack)
    isolation.prepare(n)                         # namespaces made before the clock starts
    env, argv_prefix = isolation.add(instance_id, stack)
    ...
    isolation.release(instance_id)               # when the attempt (and its second run) is done
    isolation.close()                            # every exit path: try/finally in the engine
"""

from __future__ import annotations

import atexit
import itertools
import os

from sim.engines.exec.forwarder import Forwarder
from sim.engines.exec.netns import (IMDS_V4, IMDS_V6, PREFIX, Namespace, netns_unavailable, remove_all,
                                    sweep_stale)
from sim.errors import InvalidInput, RunFailed

__all__ = ["EnvIsolation", "NetnsIsolation", "choose_isolation", "ISOLATION_MODES", "IMDS_ENDPOINT",
           "isolation_notes"]

ISOLATION_MODES = ("auto", "netns", "env")
IMDS_ENDPOINT = f"http://{IMDS_V4}/"
# Released namespaces are removed this many at a time: one `ip` process each time, not one per
# namespace, in the engine's loop (a namespace whose listeners are closed reaches nothing).
REMOVE_BATCH = 8


class EnvIsolation:
    mode = "env"

    def __init__(self, why: str | None = None) -> None:
        self.why = why  # why netns was not used (auto mode), for the run's notes

    def setup(self, stack) -> None:
        pass

    def add(self, instance_id: str, stack, **spec) -> tuple[dict[str, str], list[str]]:
        return stack.add_instance(instance_id, **spec), []

    def prefix(self, instance_id: str) -> list[str]:
        return []

    def prepare(self, count: int) -> None:
        pass

    def release(self, instance_id: str) -> None:
        pass

    def close(self) -> None:
        pass


class NetnsIsolation:
    mode = "netns"
    why = None

    def __init__(self) -> None:
        self.forwarder: Forwarder | None = None
        self.spaces: dict[str, Namespace] = {}  # instance id -> its namespace
        self._pool: list[Namespace] = []  # made ahead, not yet given to an instance
        self._done: list[Namespace] = []  # released: unreachable already, removed in batches
        self.prefixes: dict[str, list[str]] = {}
        self.swept: list[str] = []
        self._ports: list[int] = []
        self._names = itertools.count(1)
        self._closed = False

    def setup(self, stack) -> None:
        self.swept = sweep_stale()  # left by a harness that was SIGKILLed
        atexit.register(self.close)  # a crash past the engine's finally still cleans up
        self.forwarder = Forwarder().start()
        # Every proxy but IMDS's: the AWS APIs (gate) and the sinks, by their host ports.
        self._ports = sorted(port for name, port in stack.proxies.ports.items() if name != "imds")
        stack.imds_listeners = True  # IMDS network faults become per-instance IMDS settings

    def prepare(self, count: int) -> None:
        """Make up to ``count`` namespaces, with their gate and sink listeners, ahead of time.

        Making one takes two ``ip`` processes and tens of milliseconds; done at launch time in
        the engine's one loop, a burst of 200 would be spread over seconds. The engine calls
        this before its clock starts; attempts beyond the pool get a namespace made at launch.
        """
        while len(self._pool) < count and not self._closed:
            ns = Namespace.create(f"{PREFIX}{os.getpid()}-{next(self._names)}")
            self._pool.append(ns)  # in the pool first: close() removes it whatever happens next
            for port in self._ports:
                self.forwarder.listen(ns.name, ns.name, "127.0.0.1", port, port)

    def add(self, instance_id: str, stack, **spec) -> tuple[dict[str, str], list[str]]:
        """Add the instance to IMDS (``spec``: its identity fields) and give it a namespace;
        returns its environment and the argv prefix that runs a command inside."""
        if self._closed or self.forwarder is None:
            raise RunFailed("netns isolation: add() after close() or before setup()")
        env = stack.add_instance(instance_id, listener=True, **spec)
        imds_port = stack.listener_ports.get(instance_id)
        if not imds_port:
            raise RunFailed(f"netns isolation: IMDS gave instance {instance_id} no root listener port")
        if not self._pool:
            self.prepare(1)
        ns = self._pool.pop(0)
        self.spaces[instance_id] = ns
        for address in (IMDS_V4, IMDS_V6):
            self.forwarder.listen(ns.name, ns.name, address, 80, imds_port)
        # EC2's own address (the SDKs' default, so it changes nothing for them); kept so that
        # scripts written against the env-mode contract (${AWS_EC2_METADATA_SERVICE_ENDPOINT})
        # run unchanged too.
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = IMDS_ENDPOINT
        self.prefixes[instance_id] = ns.exec_prefix()
        return env, self.prefixes[instance_id]

    def prefix(self, instance_id: str) -> list[str]:
        return self.prefixes.get(instance_id, [])

    def release(self, instance_id: str) -> None:
        ns = self.spaces.pop(instance_id, None)
        self.prefixes.pop(instance_id, None)
        if ns is None:
            return
        self._done.append(ns)
        if self.forwarder is not None:
            self.forwarder.close(ns.name)  # nothing is reachable from it from now on
        if len(self._done) >= REMOVE_BATCH:
            self.flush()

    def flush(self) -> None:
        """Remove the released namespaces now (one ``ip`` process for all of them)."""
        done, self._done = self._done, []
        remove_all(done)

    def close(self) -> None:
        """Remove every namespace and stop the forwarder (idempotent; every exit path)."""
        if self._closed:
            return
        self._closed = True
        errors = []
        if self.forwarder is not None:
            self.forwarder.stop()  # every listener and connection of every namespace
        left = [*self._done, *self.spaces.values(), *self._pool]
        self._done, self._pool = [], []
        self.spaces.clear()
        try:
            remove_all(left)
        except Exception as exc:
            errors.append(str(exc))
        try:
            atexit.unregister(self.close)
        except Exception:
            pass
        if errors:
            raise RunFailed("netns isolation: could not remove namespaces: " + "; ".join(errors))


def choose_isolation(mode: str):
    """``auto``: netns where this process can make namespaces, else env; ``netns`` insists."""
    if mode not in ISOLATION_MODES:
        raise ValueError(f"isolation: expected one of {', '.join(ISOLATION_MODES)}, got {mode!r}")
    if mode == "env":
        return EnvIsolation()
    why = netns_unavailable()
    if why is None:
        return NetnsIsolation()
    if mode == "netns":
        raise RunFailed(f"isolation netns is not possible here: {why}; use --isolation env")
    return EnvIsolation(why)


def isolation_notes(isolation, faults) -> list[str]:
    """What the run says about its isolation; faults netns cannot apply are refused here."""
    if isolation.mode == "env":  # asked for: nothing to warn about; fallen back to: say why
        return [f"exec: isolation env, not netns ({isolation.why}): scripts that hard-code "
                "169.254.169.254 cannot reach IMDS"] if isolation.why else []
    for i, f in enumerate(faults):
        if f.kind == "slow_bandwidth" and f.target.split(".")[0] == "imds":
            raise InvalidInput(f"faults.{i}: slow_bandwidth on imds cannot be applied with isolation "
                               "netns (IMDS is served per instance); use latency, or --isolation env")
    return []
