"""The load engine: virtual instances on Locust, against the real fakes stack.

``run(scenario, seed)`` starts the fakes (or uses a given stack, reset first), sets the
scenario's operation quotas on the gate (per scenario second: `sim.engines.live.stack`), adds
every instance id the run may use to IMDS, then starts
``python -m locust -f sim/engines/load/locustfile.py`` as one master (bound to 127.0.0.1) and
``workers`` local workers. Locust runs only in those processes: this module
never imports it. Once the master has fixed the run's clock (``status.json``), the scenario's
faults are applied on that clock by ``fakes.stack.FaultTimeline``, exactly as the exec engine
does. The master ends the run once every instance is done or the horizon has passed; the raw
per-call and per-attempt records it collected (``records.jsonl``) become the Run
(`assemble`), and Locust's own CSV and HTML report go beside it (``Run.attachments``).

``remote_workers``: that many more workers are expected from other machines
(``bootstorm run SCENARIO --engine load --worker --master-host HOST``); the master then binds
``master_bind_host``. SIGINT/SIGTERM stop the Locust processes and the stack; the Run comes
back marked ``partial`` with what was recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sim.engines.interrupts import flag_interrupts, restore_signals
from sim.engines.live.plan import instance_id
from sim.engines.live.stack import open_stack
from sim.engines.load.plan import LoadPlan, plan_load
from sim.errors import RunFailed
from sim.results import Run
from sim.scenario.model import Scenario

__all__ = ["run", "LoadEngine", "LOCUSTFILE", "locust_command"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
_REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 120.0  # seconds for Locust to start and every worker to connect
END_GRACE = 60.0  # seconds past the horizon before the Locust processes are stopped by force
STOP_WAIT = 40.0  # seconds an interrupted run waits for the master's last records


def locust_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--loglevel", "WARNING", *args]


def run(scenario: Scenario, seed: int | None = None, progress=None, scenario_file=None,
        stack=None, workers: int | None = None, remote_workers: int = 0,
        master_bind_host: str = "127.0.0.1", master_port: int | None = None) -> Run:
    return LoadEngine(scenario, seed, progress, scenario_file, stack, workers, remote_workers,
                      master_bind_host, master_port).run()


class LoadEngine:
    def __init__(self, scenario, seed=None, progress=None, scenario_file=None, stack=None,
                 workers=None, remote_workers=0, master_bind_host="127.0.0.1", master_port=None):
        self.scenario = scenario
        self.seed = scenario.run.seed if seed is None else seed
        self.progress, self.scenario_file, self.given_stack = progress, scenario_file, stack
        self.plan: LoadPlan = plan_load(scenario, workers, self.seed)  # InvalidInput first
        self.remote_workers = remote_workers
        self.bind_host, self.master_port = master_bind_host, master_port
        self.procs: list[subprocess.Popen] = []
        self.interrupted = False

    def run(self) -> Run:
        from fakes._proc import free_port
        from fakes.stack import FaultTimeline
        from sim.engines.load.assemble import assemble

        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        wall0 = time.monotonic()
        self.tmp = Path(tempfile.mkdtemp(prefix="bootstorm-load-"))
        previous = flag_interrupts(self)
        owned = self.given_stack is None
        stack = timeline = None
        try:
            stack = open_stack(self.scenario, self.given_stack, self.plan.clock)
            self._prepare(stack)
            port = self.master_port or free_port()
            self._start_locust(port)
            status = self._wait_status(lambda s: "t0" in s, START_TIMEOUT, "the Locust master did not start")
            if "t0" not in status:  # Ctrl-C before the run's clock started: nothing to report
                raise KeyboardInterrupt
            t0_wall = status["t0"]
            timeline = FaultTimeline(stack, self.plan.faults).start(time.monotonic() + (t0_wall - time.time()))
            status = self._wait_end(t0_wall)
            timeline.stop()
            result = assemble(self, stack, status, timeline.records, started, time.monotonic() - wall0)
        finally:
            self._stop_locust()
            if timeline is not None:
                timeline.stop()
            if owned and stack is not None:
                stack.stop()
            restore_signals(previous)
            if not os.environ.get("BOOTSTORM_KEEP_LOAD_FILES"):
                self.cleanup()
        return result

    # -- before ---------------------------------------------------------------------------
    def _prepare(self, stack) -> None:
        """The job for the workers; every instance id in IMDS (quotas are set by `open_stack`)."""
        job = self.plan.job(self.scenario, self.seed, _dependency_urls(stack), stack.config)
        job["workers"] = self.plan.workers + self.remote_workers  # instance i: worker i % workers
        ids = [instance_id(i, a) for i in range(self.plan.size) for a in range(1, job["max_attempts"] + 1)]
        for k in range(0, len(ids), 2000):
            stack.imds.add_instances([{"instance_id": iid, "role": stack.config.role_name}
                                      for iid in ids[k:k + 2000]])
        (self.tmp / "job.json").write_text(json.dumps(job))

    def _start_locust(self, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["BOOTSTORM_LOAD_DIR"] = str(self.tmp)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
        total = self.plan.workers + self.remote_workers
        master = locust_command(
            "--master", "--master-bind-host", self.bind_host, "--master-bind-port", str(port),
            "--expect-workers", str(total), "--csv", str(self.tmp / "locust"),
            "--html", str(self.tmp / "locust.html"), "--logfile", str(self.tmp / "master.log"),
            "--only-summary")
        self.procs.append(self._spawn(master, env, "master"))
        for w in range(self.plan.workers):
            worker = locust_command("--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                                    "--logfile", str(self.tmp / f"worker-{w}.log"))
            self.procs.append(self._spawn(worker, env, f"worker-{w}"))

    def _spawn(self, cmd, env, name) -> subprocess.Popen:
        try:
            out = open(self.tmp / f"{name}.out", "wb")
            return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.tmp))
        except OSError as exc:
            raise RunFailed(f"load engine: could not start Locust ({' '.join(cmd[:4])}): {exc}") from exc

    # -- during ---------------------------------------------------------------------------
    def _status(self) -> dict:
        try:
            return json.loads((self.tmp / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def _wait_status(self, done, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.interrupted:
            status = self._status()
            if done(status):
                return status
            if self.procs[0].poll() is not None:
                break
            time.sleep(0.1)
        if self.interrupted:
            return self._status()
        raise RunFailed(f"load engine: {what} within {timeout:.0f}s; see {self._tail()}")

    def _wait_end(self, t0_wall: float) -> dict:
        master = self.procs[0]
        limit = self.plan.horizon + END_GRACE
        last = -1.0
        while not self.interrupted:
            if master.poll() is not None:
                break
            now = time.time() - t0_wall
            if now > limit:
                break
            if self.progress is not None and now - last >= 1.0:
                last = now
                self.progress(max(0.0, now), self.plan.horizon, _count_final(self.tmp), self.plan.size)
            time.sleep(0.2)
        if self.interrupted and master.poll() is None:
            # Ask the master to end now: workers record what is still booting as unfinished.
            (self.tmp / "stop").write_text("interrupted\n")
            deadline = time.monotonic() + STOP_WAIT
            while "end" not in self._status() and master.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        status = self._status()
        if "end" not in status:  # the master died or overran: what was recorded
            self.interrupted = True
            status = {**status, "end": max(0.0, min(time.time() - t0_wall, self.plan.horizon)),
                      "reason": "interrupted" if master.poll() is None else f"master exited {master.returncode}"}
        else:  # the master wrote its reports on the way out: give it time to finish them
            try:
                master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        return status

    def _tail(self) -> str:
        path = self.tmp / "master.out"
        try:
            text = path.read_text(errors="replace").strip().splitlines()[-5:]
        except OSError:
            text = []
        return f"{path}: " + (" | ".join(text) if text else "(no output)")

    # -- after ----------------------------------------------------------------------------
    def _stop_locust(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(p, signal.SIGKILL)
                p.wait()

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _signal_group(p: subprocess.Popen, sig) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _dependency_urls(stack) -> dict[str, str]:
    """Where a virtual instance sends each dependency's calls: through its Toxiproxy proxy."""
    ends = stack.endpoints()
    return {name: ends[name] for name in ("imds", "secretsmanager", "ssm", "sts", "iam",
                                          "registry", "telemetry") if name in ends}


def _count_final(folder: Path) -> int:
    """Instances done so far (for the progress bar): final attempt records in the stream."""
    try:
        with open(folder / "records.jsonl", "rb") as fh:
            return sum(1 for line in fh if line.startswith(b'["a"') and b'"final":true' in line)
    except OSError:
        return 0

