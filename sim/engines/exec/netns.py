"""Named network namespaces for instances: create, remove, sweep, and switch a thread into one.

A namespace is made with iproute2 (``ip netns add``), so it is a bind mount under
``/run/netns/NAME`` that ``ip netns exec NAME`` (how the instance's process is started) and
``ip netns list`` (how a user checks for leftovers) both see. Inside it only ``lo`` is up,
carrying EC2's metadata addresses (169.254.169.254/32 and fd00:ec2::254/128) besides
127.0.0.1; there is no other interface and no route, so nothing outside is reachable except
what the forwarder (`sim.engines.exec.forwarder`) listens for in it.

Names are ``bootstorm-<harness pid>-<n>``: a run removes its own on every exit path, and
`sweep_stale` removes those whose harness pid is dead (a SIGKILLed run) before a new run.

Sockets are put into a namespace with ``setns(2)`` in a short-lived thread: the namespace of
a thread changes, not the process's, and a socket keeps the namespace it was made in, so the
host-side threads never leave the host's namespace. Python 3.11 has no ``os.setns`` (3.12
does); the libc call through ctypes is a one-line equivalent, used when ``os.setns`` is missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import threading
from typing import Callable, TypeVar

from sim.errors import RunFailed

__all__ = ["IMDS_V4", "IMDS_V6", "PREFIX", "Namespace", "remove_all", "netns_unavailable", "sweep_stale",
           "list_namespaces", "in_namespace", "ip_binary"]

IMDS_V4 = "169.254.169.254"
IMDS_V6 = "fd00:ec2::254"
PREFIX = "bootstorm-"
NETNS_DIR = "/run/netns"
_NAME = re.compile(r"^bootstorm-(\d+)-(\w+)$")
_CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def ip_binary() -> str | None:
    return shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip") if os.access(p, os.X_OK)), None)


def _ip(*args: str, stdin: str | None = None) -> None:
    ip = ip_binary()
    if ip is None:
        raise RunFailed("network namespaces: iproute2's `ip` is not installed")
    # Its own session: a Ctrl-C at the terminal goes to the harness (which cleans up), not to an
    # `ip` half-way through making a namespace.
    done = subprocess.run([ip, *args], input=stdin, capture_output=True, text=True, timeout=30,
                          start_new_session=True)
    if done.returncode != 0:
        raise RunFailed(f"network namespaces: `ip {' '.join(args)}` failed: {done.stderr.strip()}")


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def in_namespace(name: str, fn: Callable[[], T]) -> T:
    """Call ``fn`` in a fresh thread switched into namespace ``name``; return its result."""
    box: dict = {}

    def work() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=work, name=f"bootstorm-setns-{name}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Namespace:
    """One instance's network namespace; `remove` is idempotent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.removed = False

    @classmethod
    def create(cls, name: str) -> "Namespace":
        ns, path = cls(name), os.path.join(NETNS_DIR, name)
        existed = os.path.exists(path)
        try:
            _ip("netns", "add", name)
        except BaseException:
            if not existed and os.path.exists(path):  # made, then the call failed
                ns.remove()
            raise
        try:
            # One `ip` process for the rest: lo up with EC2's metadata addresses on it.
            # nodad: the v6 address is usable at once (no duplicate address detection wait).
            _ip("-n", name, "-batch", "-", stdin="\n".join([
                "link set lo up",
                f"addr add {IMDS_V4}/32 dev lo",
                f"addr add {IMDS_V6}/128 dev lo nodad",
            ]) + "\n")
        except BaseException:
            ns.remove()
            raise
        return ns

    def exec_prefix(self) -> list[str]:
        """argv prefix that runs a command inside: ``ip netns exec`` execs it (same pid)."""
        return [ip_binary() or "ip", "netns", "exec", self.name]

    def remove(self) -> None:
        if self.removed:
            return
        self.removed = True
        try:
            _ip("netns", "del", self.name)
        except RunFailed:
            if os.path.exists(os.path.join(NETNS_DIR, self.name)):
                raise


def remove_all(namespaces: list[Namespace]) -> None:
    """Remove many with one ``ip -batch`` process (one each when that fails)."""
    todo = [ns for ns in namespaces if not ns.removed]
    if not todo:
        return
    try:
        _ip("-batch", "-", stdin="".join(f"netns del {ns.name}\n" for ns in todo))
        for ns in todo:
            ns.removed = True
    except RunFailed:  # one was gone already: the batch stopped there; go one by one
        for ns in todo:
            ns.remove()


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Remove ``bootstorm-<pid>-<n>`` namespaces whose harness pid is gone; return their names."""
    removed = []
    for name in list_namespaces():
        m = _NAME.match(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            try:
                Namespace(name).remove()
                removed.append(name)
            except RunFailed:
                pass  # someone else removed it meanwhile, or it is busy: not ours to fight over
    return removed


def netns_unavailable() -> str | None:
    """Why this process cannot give instances their own network namespace, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    if ip_binary() is None:
        return "iproute2's `ip` is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        ns = Namespace.create(probe)
    except RunFailed as exc:
        return str(exc)
    try:
        in_namespace(probe, lambda: None)
    except OSError as exc:
        return f"setns into a new namespace failed: {exc}"
    finally:
        ns.remove()
    return None
