"""Every fake as one: start, wire, watch, reset and stop them together.

    with Stack(scenario) as stack:                 # moto, gate, IMDS, sinks, toxiproxy: ready
        env = stack.add_instance("i-0123456789abcdef1")         # the environment one bootstrap gets
        handle = stack.apply_fault("partition", "secretsmanager")
        ...
        stack.lift_fault(handle)

Wiring (each box its own process on a free 127.0.0.1 port)::

    bootstrap --> toxiproxy[imds] ------------------------------> IMDS --AssumeRole--> moto
    bootstrap --> toxiproxy[secretsmanager|ssm|sts|iam|aws] --> gate ---------------> moto
    bootstrap --> toxiproxy[registry|telemetry] --------------> sinks

IMDS mints role credentials on moto directly (the harness key signs AssumeRole), not through
the gate: an STS fault is a fault of the instance's STS calls, not of EC2's credential
delivery. The gate must still know those keys (to attribute calls and refuse expired ones), so
a watcher thread copies new entries of the IMDS credentials ledger into the gate every
``WATCH_INTERVAL`` seconds, and the stack syncs once more, synchronously, before anything that
depends on it (expiring credentials, reading the request log). Polling from here keeps each
fake ignorant of the others; a key used before its first sync is still attributed to its
instance by the ``app/<instance id>`` the SDK puts in its User-Agent (``AWS_SDK_UA_APP_ID``).

The same watcher polls every child; when one dies the stack stops all of them and every
later call raises `FakeFailed` naming the dead fake and its exit code.
"""

from __future__ import annotations

import atexit
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable

from fakes._proc import ServerProcess
from fakes.stack.config import StackConfig
from fakes.stack.proxies import AWS_SERVICE_PROXIES, GENERAL_AWS_PROXY, Proxies
from fakes.stack.state import write_state
from sim.errors import FakeFailed, InvalidInput

__all__ = ["Stack", "ENDPOINT_VARIABLES", "WATCH_INTERVAL"]

WATCH_INTERVAL = 0.25
# botocore's service-specific endpoint variables: AWS_ENDPOINT_URL_<service id, upper snake>.
ENDPOINT_VARIABLES = {
    "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "ssm": "AWS_ENDPOINT_URL_SSM",
    "sts": "AWS_ENDPOINT_URL_STS",
    "iam": "AWS_ENDPOINT_URL_IAM",
}
_ORDER = ("toxiproxy", "imds", "gate", "sinks", "moto")  # stop order: front door first


class Stack:
    """The fakes of one run. Not started by the constructor: call `start` (or use ``with``)."""

    def __init__(self, source: Any = None, *, state_file: str | os.PathLike | None = None, gate_seed: int | None = None):
        self.config = StackConfig.of(source)
        self.state_file = state_file
        self.state_extra: dict[str, Any] = {}  # the CLI adds owner_pid here
        self.gate_seed = self.config.seed if gate_seed is None else gate_seed
        self.servers: dict[str, ServerProcess] = {}
        self.proxies: Proxies | None = None
        self.gate = self.imds = self.sinks = None
        self.harness_key = None
        self.failure: FakeFailed | None = None
        self.faults: dict[str, Any] = {}  # handle id -> FaultHandle (see fakes.stack.faults)
        self.holds: dict[tuple[str, str], list] = {}
        self._imds_defaults: dict[str, Any] = {}
        # Instances served at the root of their own IMDS port (the exec engine's netns
        # isolation): instance id -> that port. While ``imds_listeners`` is set, network faults
        # on imds are IMDS settings, since those instances do not go through toxiproxy's proxy.
        self.listener_ports: dict[str, int] = {}
        self.imds_listeners = False
        self._ledger_cursor = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._started = False

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Stack":
        if self._started:
            if self._stopping.is_set():
                raise FakeFailed("this Stack was stopped; a stopped stack does not restart, make a new Stack")
            return self
        self._started = True
        atexit.register(self.stop)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        self._watcher = threading.Thread(target=self._watch, name="bootstorm-stack-watch", daemon=True)
        self._watcher.start()
        if self.state_file is not None:
            write_state(self.state_file, self.describe())
        return self

    def _start_all(self) -> None:
        from fakes.gate import GateClient, start_gate
        from fakes.imds import ImdsClient, start_imds
        from fakes.moto import moto_enforce_iam, start_moto
        from fakes.seed import RoleSpec, seed
        from fakes.sinks.client import SinksClient, start_sinks
        from fakes.toxiproxy import start_toxiproxy

        cfg = self.config
        # The independent ones start together: startup is mostly Python imports.
        self._start_parallel({"moto": start_moto, "sinks": start_sinks, "toxiproxy": lambda: start_toxiproxy(0)})
        moto_url = self.servers["moto"].url
        inline = {"bootstorm-role-actions": cfg.role_policy()} if cfg.role_actions else {}
        seeded = seed(moto_url, secrets=cfg.secrets, parameters=cfg.parameters,
                      roles=[RoleSpec(name=cfg.role_name, inline_policies=inline)], region=cfg.region)
        self.harness_key = seeded.harness_key
        if cfg.enforce_iam:
            moto_enforce_iam(moto_url)
        caller = (seeded.harness_key.access_key_id, seeded.harness_key.secret_access_key)
        # No instance at the root path: every bootstrap gets its own /<instance-id>/ base URL.
        imds_config = {"default_instance": False}
        self._start_parallel({
            "gate": lambda: start_gate(moto_url, seed=self.gate_seed),
            "imds": lambda: start_imds(moto_url, imds_config, moto_caller=caller),
        })
        self.gate = GateClient(self.servers["gate"].url)
        self.imds = ImdsClient(self.servers["imds"].url)
        self.sinks = SinksClient(self.servers["sinks"].url)
        self._imds_defaults = self.imds.defaults()
        self.proxies = Proxies(self.servers["toxiproxy"].port)
        self.proxies.create("imds", self.servers["imds"].port)
        for name in (*AWS_SERVICE_PROXIES, GENERAL_AWS_PROXY):
            self.proxies.create(name, self.servers["gate"].port)
        for name in ("registry", "telemetry"):
            self.proxies.create(name, self.servers["sinks"].port)

    def _start_parallel(self, starters: dict[str, Callable[[], ServerProcess]]) -> None:
        pool = ThreadPoolExecutor(max_workers=len(starters))
        futures = {name: pool.submit(start) for name, start in starters.items()}
        try:
            wait(list(futures.values()))
        finally:
            # Even when interrupted: keep every server that did start, so stop() reaches it.
            pool.shutdown(wait=True)
            errors = []
            for name, future in futures.items():
                if future.exception() is None:
                    self.servers[name] = future.result()
                else:  # every start failure is reported, not just the first
                    errors.append(f"{name} did not start: {future.exception()}")
        if errors:
            raise FakeFailed("; ".join(errors))

    def stop(self) -> None:
        """Stop every fake (idempotent); lifts nothing first: the processes go away."""
        with self._lock:
            self._stopping.set()
            servers, self.servers = self.servers, {}
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=10)
        for name in sorted(servers, key=lambda n: _ORDER.index(n) if n in _ORDER else -1):
            try:
                servers[name].stop()
            except Exception:  # keep stopping the others; a leftover process is worse
                pass
        self.faults.clear()
        self.holds.clear()
        if self.state_file is not None:
            try:
                os.unlink(self.state_file)
            except FileNotFoundError:
                pass
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self.servers) and self.failure is None

    def check(self) -> None:
        """Raise `FakeFailed` if a fake died (or the stack is not running)."""
        if self.failure is not None:
            raise self.failure
        if not self.servers:
            raise FakeFailed("the fakes stack is not running (start() it first)")

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL):
            dead = [(name, s.proc.returncode) for name, s in list(self.servers.items())
                    if s.proc is not None and s.proc.poll() is not None]
            if dead:
                what = ", ".join(f"{name} (exit code {code})" for name, code in dead)
                self.failure = FakeFailed(f"fake died while the stack was running: {what}; stopped the stack")
                threading.Thread(target=self.stop, name="bootstorm-stack-stop", daemon=True).start()
                return
            try:
                self.sync_credentials()
            except FakeFailed:
                pass  # a dying fake is reported by the poll above on the next turn

    # wiring ---------------------------------------------------------------------------------
    def sync_credentials(self) -> int:
        """Register keys IMDS issued since the last sync with the gate; returns how many."""
        with self._lock:
            if self.imds is None or self.gate is None:
                return 0
            issued = self.imds.credentials(self._ledger_cursor)
            for entry in issued:
                self.gate.register_key(entry["access_key_id"], entry["instance_id"], expiration=entry["expiration"])
                self._ledger_cursor = max(self._ledger_cursor, int(entry["seq"]))
            return len(issued)

    def endpoints(self) -> dict[str, str]:
        """What a bootstrap talks to (proxied) and each fake's own URL (control APIs)."""
        self.check()
        assert self.proxies is not None
        out = {name: self.proxies.url(name) for name in self.proxies.ports}
        out.update({f"{name}_direct": server.url for name, server in self.servers.items()})
        return out

    def add_instance(self, instance_id: str, **spec: Any) -> dict[str, str]:
        """Add an instance to IMDS (running as the stack's role); returns its bootstrap env.

        The env holds only what is listed here: none of the caller's AWS credentials,
        profile or config; the exec engine adds HOME and config file paths.
        """
        self.check()
        if not isinstance(instance_id, str) or not instance_id or "/" in instance_id:
            raise InvalidInput(f"instance id: expected a non-empty string without '/', got {instance_id!r}")
        assert self.imds is not None and self.proxies is not None
        spec.setdefault("role", self.config.role_name)
        described = self.imds.add_instance(instance_id, **spec)
        if described.get("listener_port"):
            self.listener_ports[instance_id] = int(described["listener_port"])
        return self.instance_env(instance_id)

    def instance_env(self, instance_id: str) -> dict[str, str]:
        assert self.proxies is not None
        env = {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"{self.proxies.url('imds')}/{instance_id}/",
            "AWS_ENDPOINT_URL": self.proxies.url(GENERAL_AWS_PROXY),
            "AWS_REGION": self.config.region,
            "AWS_DEFAULT_REGION": self.config.region,
            "BOOTSTORM_REGISTRY_URL": self.proxies.url("registry"),
            "BOOTSTORM_TELEMETRY_URL": self.proxies.url("telemetry"),
            "BOOTSTORM_INSTANCE_ID": instance_id,
            "AWS_SDK_UA_APP_ID": instance_id,
        }
        env.update({var: self.proxies.url(service) for service, var in ENDPOINT_VARIABLES.items()})
        return env

    def planted_secrets(self) -> dict[str, str]:
        """Secret name -> value as seeded, for leak detection. Never print the values."""
        return dict(self.config.secrets)

    def describe(self) -> dict[str, Any]:
        """The state file's content: endpoints, processes (pid, process group, port), names."""
        processes = {
            # pgid == pid: every fake is started in its own session (fakes._proc)
            name: {"pid": s.proc.pid, "pgid": s.proc.pid, "port": s.port, "url": s.url}
            for name, s in self.servers.items() if s.proc is not None
        }
        assert self.proxies is not None
        return {
            "processes": processes,
            "proxies": dict(self.proxies.ports),
            "endpoints": self.endpoints(),
            "region": self.config.region,
            "role": self.config.role_name,
            "secrets": sorted(self.config.secrets),
            "parameters": sorted(self.config.parameters),
            **self.state_extra,
        }

    def reset(self) -> None:
        """Between tests: lift every fault, clear rules, logs, instances, sink data, toxics."""
        self.check()
        from fakes.stack.faults import lift_all

        lift_all(self)
        with self._lock:
            assert self.proxies and self.gate and self.imds and self.sinks
            self.proxies.reset()
            self.gate.reset()
            self.imds.reset()
            self.sinks.reset()
            self._ledger_cursor = 0
            self.listener_ports.clear()
            self.imds_listeners = False

    # faults and reading (implemented in their own modules) -----------------------------------
    def apply_fault(self, kind: str, target: str, **params: Any):
        from fakes.stack.faults import apply_fault

        self.check()
        return apply_fault(self, kind, target, **params)

    def apply(self, fault_spec: Any):
        from fakes.stack.faults import apply_spec

        self.check()
        return apply_spec(self, fault_spec)

    def lift_fault(self, handle: Any) -> None:
        from fakes.stack.faults import lift_fault

        lift_fault(self, handle)

    def request_log(self, since: float = 0.0) -> list[dict[str, Any]]:
        from fakes.stack.reading import request_log

        self.check()
        self.sync_credentials()
        return request_log(self, since)

    def sink_summary(self) -> dict[str, dict]:
        self.check()
        assert self.sinks is not None
        return self.sinks.summary()

    def capacity(self) -> dict[str, dict[str, Any]]:
        from fakes.stack.reading import capacity

        return capacity()

    # settings held by faults: overlapping faults restore in order --------------------------
    def hold(self, key: tuple[str, str], value: Any, default: Any, setter: Callable[[Any], None]) -> Callable[[], None]:
        """Set a fake's setting for a fault; the returned undo restores what is still held."""
        with self._lock:
            holders = self.holds.setdefault(key, [])
            token = object()
            holders.append((token, value))
            setter(value)

        def undo() -> None:
            with self._lock:
                holders[:] = [h for h in holders if h[0] is not token]
                setter(holders[-1][1] if holders else default)

        return undo

    def imds_default(self, setting: str) -> Any:
        return self._imds_defaults.get(setting)
