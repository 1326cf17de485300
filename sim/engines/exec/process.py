"""One instance's bootstrap process: spawned in its own process group, reaped without blocking.

The harness never waits on a process it did not start (no ``waitpid(-1)``: the fakes are
children too, and reaping one behind ``subprocess.Popen``'s back would look like a crash to
the stack's watcher). Each process is watched through a pidfd in one selector, so the
harness sleeps until a child exits or its next deadline; where pidfds are missing it falls
back to polling ``os.wait4(pid, WNOHANG)``.

CPU time: ``os.wait4`` returns the leader's rusage, which on Linux includes every
descendant the leader itself waited for (``sh -c`` waiting on ``python``, a script waiting on
``aws``). A group killed by the harness dies before its leader can wait for anyone, so just
before the SIGTERM the harness also sums, from ``/proc``, user+system time (own and reaped
children's) of every process in the group, and keeps the larger of the two. Not counted:
processes the script left running in the background after it exited (daemonised agents).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["InstanceProcess", "instance_env", "stop_all", "groups_cpu", "file_snapshot", "PASSED_THROUGH"]

# The only variables taken from the caller's environment: no AWS_*, no credentials, no profile.
PASSED_THROUGH = ("PATH", "LANG")
_SHELL = "/bin/sh"
_NICE = shutil.which("nice")


def instance_env(stack_env: dict[str, str], root: Path, repo_root: Path,
                 extra: dict[str, str]) -> dict[str, str]:
    """The whole environment of one bootstrap: the stack's instance env, its root, and
    ``extra`` (the scenario's ``exec.env``); nothing else of the caller's."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    # The harness's interpreter first: `python3 reference.py` finds boto3 and sim.policies.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    env["PYTHONPATH"] = str(repo_root)
    env.update(stack_env)
    config, credentials, tmp = root / ".aws-config", root / ".aws-credentials", root / "tmp"
    tmp.mkdir(exist_ok=True)
    for empty in (config, credentials):
        empty.touch()
    env.update({
        "BOOTSTORM_INSTANCE_ROOT": str(root),
        "HOME": str(root),
        "TMPDIR": str(tmp),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
    })
    env.update(extra)
    return env


class InstanceProcess:
    """``/bin/sh -c command``; stdout and stderr to files; its own session.

    It runs in ``workdir`` (where bootstorm was started, so ``./my-bootstrap.sh`` and
    ``scenarios/bootstraps/reference.py`` resolve as the user typed them); its disk is ``root``
    (``HOME`` and ``BOOTSTORM_INSTANCE_ROOT``).
    """

    def __init__(self, command: str, env: dict[str, str], root: Path, log_prefix: Path, nice: int = 0,
                 workdir: Path | None = None, argv_prefix: list[str] | None = None):
        self.command = command
        # e.g. ``ip netns exec NAME``: it execs what follows, so pid and group stay the leader's
        self.argv_prefix = list(argv_prefix or [])
        self.workdir = workdir if workdir is not None else Path.cwd()
        self.nice = nice
        self.env = env
        self.root = root
        self.stdout_path = log_prefix.with_name(log_prefix.name + ".stdout")
        self.stderr_path = log_prefix.with_name(log_prefix.name + ".stderr")
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.started = math.nan  # time.monotonic()
        self.exited = math.nan
        self.exit_code: int | None = None  # None while running, or when killed by a signal
        self.signal: int | None = None
        self.cpu_seconds = math.nan
        self.term_sent = math.nan  # when SIGTERM went to the group (monotonic)
        self.cpu_at_term = math.nan  # the group's CPU from /proc just before the SIGTERM
        # Once the group is seen empty its id may be reused by a stranger: never signal it again.
        self.group_gone = False
        self._popen: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.pid is not None and math.isnan(self.exited)

    def start(self) -> "InstanceProcess":
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            argv = [_SHELL, "-c", self.command]
            if self.nice and _NICE:  # nice execs the shell: the pid (and group) stay the same
                argv = [_NICE, "-n", str(self.nice), *argv]
            argv = [*self.argv_prefix, *argv]
            self._popen = subprocess.Popen(
                argv, cwd=self.workdir, env=self.env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, close_fds=True,
            )
        self.pid = self._popen.pid
        self.started = time.monotonic()
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(self.pid)
            except OSError:  # old kernel or seccomp: the engine polls instead
                self.pidfd = None
        return self

    def reap(self, block: bool = False) -> bool:
        """Collect the leader's exit status if it has exited; True once it has."""
        if self.pid is None or not math.isnan(self.exited):
            return self.pid is not None
        try:
            pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: nothing more to learn
            pid, status, usage = self.pid, 0, None
        if pid == 0:
            return False
        self.exited = time.monotonic()
        if usage is not None:
            self.cpu_seconds = usage.ru_utime + usage.ru_stime
        if self.cpu_at_term == self.cpu_at_term:
            self.cpu_seconds = max(self.cpu_at_term, self.cpu_seconds if self.cpu_seconds == self.cpu_seconds else 0.0)
        if os.WIFSIGNALED(status):
            self.signal = os.WTERMSIG(status)
        else:
            self.exit_code = os.waitstatus_to_exitcode(status)
        if self._popen is not None:  # so Popen never waits on (or warns about) a reaped pid
            self._popen.returncode = self.exit_code if self.signal is None else -self.signal
        return True

    def close_fd(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def signal_group(self, signum: int) -> bool:
        """Send ``signum`` to the whole process group; False when nothing is left in it."""
        if self.pid is None or self.group_gone:
            return False
        try:
            os.killpg(self.pid, signum)  # pgid == pid: start_new_session made it the leader
            return True
        except (ProcessLookupError, PermissionError):
            self.group_gone = True
            return False

    def terminate(self, group_cpu: dict[int, float] | None = None) -> None:
        """SIGTERM the group (once); ``group_cpu``: a `groups_cpu` scan taken just before."""
        if math.isnan(self.term_sent):
            if self.running:
                cpu = (group_cpu if group_cpu is not None else groups_cpu({self.pid})).get(self.pid)
                if cpu is not None:
                    self.cpu_at_term = cpu
            self.term_sent = time.monotonic()
            self.signal_group(signal.SIGTERM)

    def group_alive(self) -> bool:
        return self.signal_group(0)

    def error_class(self) -> str:
        """``exit:N`` or ``signal:NAME`` for a process that ended."""
        if self.signal is not None:
            try:
                return f"signal:{signal.Signals(self.signal).name}"
            except ValueError:
                return f"signal:{self.signal}"
        return f"exit:{self.exit_code}"


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def groups_cpu(pgids: set[int]) -> dict[int, float]:
    """Process group id -> CPU seconds of its live members (own and reaped children's)."""
    out: dict[int, float] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue  # gone between listdir and open
        fields = data[data.rindex(b")") + 2 :].split()
        pgrp = int(fields[2])
        if pgrp in pgids:
            ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            out[pgrp] = out.get(pgrp, 0.0) + ticks / _TICKS
    return out


def stop_all(processes: list[InstanceProcess], grace: float) -> None:
    """SIGTERM every group, wait up to ``grace`` for the leaders, SIGKILL every group, reap."""
    live = [p for p in processes if p.running]
    cpu = groups_cpu({p.pid for p in live}) if live else {}
    for p in processes:
        if p.running or p.group_alive():
            p.terminate(cpu)
    deadline = time.monotonic() + grace
    while any(p.running for p in processes) and time.monotonic() < deadline:
        for p in processes:
            p.reap()
        time.sleep(0.02)
    for p in processes:
        p.signal_group(signal.SIGKILL)
    for p in processes:
        if p.running:
            p.reap(block=True)
        p.close_fd()


def file_snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Relative path -> (size, SHA-256 of the content) of every regular file under ``root``.

    Content, not mtime: a script that rewrites a file with the same bytes (its own 'done'
    marker) left the disk as it was; only a different content, a new or a removed file is a
    side effect of a second run."""
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode):
                    continue
                with open(path, "rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
            except OSError:
                continue
            out[os.path.relpath(path, root)] = (st.st_size, digest)
    return out
