"""The Locust side of the load engine: run only by ``locust -f`` (master and workers).

Never import this module from bootstorm itself: Locust monkey-patches the standard library on
import. ``sim.engines.load.engine`` starts ``python -m locust -f <this file>`` processes.

    master (one)   reads the job (``$BOOTSTORM_LOAD_DIR/job.json``), fixes the run's clock
                   (t0) on the shape's first tick and sends job and t0 to every worker; the
                   `BootstormShape` keeps enough users alive for every launch due within
                   ``LOOKAHEAD`` seconds; it writes the records workers send to
                   ``records.jsonl`` and ends the run once every instance is done or the
                   horizon has passed (``status.json`` says when and why).
    workers (N)    each user is one virtual instance: it claims the next instance of its
                   worker's share (instance i belongs to worker i % N), sleeps until that
                   instance's own launch time (finer than a shape's one-second tick), then
                   boots it (`sim.engines.load.vinstance.BootAttempt`), replacement attempts
                   included. Raw records go to the master in batches every ``FLUSH`` seconds
                   over Locust's own messages, so remote workers need no shared disk.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import resource
import time

import gevent
from gevent.event import Event
from locust import LoadTestShape, User, constant, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.runners import MasterRunner, WorkerRunner

from sim.engines.load.plan import instance_id
from sim.engines.load.vinstance import BootAttempt

LOOKAHEAD = 2.0  # seconds: users exist this long before their launch
START_LEAD = 1.0  # seconds between the first tick and t0: workers get the job first
FLUSH = 0.25
SPAWN_RATE = 5000
STOP_WAIT = 30.0  # seconds the master waits for every worker's last records

_READY = Event()
_CTX = None


# -- worker ------------------------------------------------------------------------------
class Recorder:
    """Raw records, batched to the master: ``["c", ...]`` per call, ``["a", {...}]`` per attempt."""

    def __init__(self, runner, worker: int, max_attempts: int):
        self.runner, self.worker, self.max_attempts = runner, worker, max_attempts
        self.buf: list = []

    def call(self, t, latency, dep, op, iid, first, status, code, kind):
        self.buf.append(["c", round(t, 6), round(latency, 6), dep, op, iid, first, status, code, kind])

    def attempt(self, a, outcome, now, error_class, failed_step):
        self.buf.append(["a", {
            "instance": a.instance, "attempt": a.attempt, "instance_id": a.instance_id,
            "launch": a.launch, "start": a.start, "end": now, "ready_time": a.ready_at,
            "outcome": outcome, "error_class": error_class, "failed_step": failed_step,
            "retries": a.retries, "calls": a.calls, "step_retries": a.step_retries,
            "marks": a.marks, "worker": self.worker, "lag": a.lag,
            "final": outcome in ("ready", "unfinished") or a.attempt >= self.max_attempts,
        }])

    def flush(self):
        if self.buf:
            batch, self.buf = self.buf, []
            self.runner.send_message("bootstorm_records", batch)


class WorkerContext:
    def __init__(self, environment, job: dict, t0: float):
        from sim.engines.sim.compiled import compile_scenario
        from sim.scenario.model import Scenario

        self.environment, self.job, self.t0 = environment, job, t0
        self.scenario = Scenario.model_validate(job["scenario"])
        self.model = compile_scenario(self.scenario)  # the sim's policies, timeouts and marks
        self.endpoints, self.grace = job["endpoints"], job["grace"]
        runner = environment.runner
        self.index = runner.worker_index % job["workers"]
        self.recorder = Recorder(runner, self.index, job["max_attempts"])
        self.claimed = 0
        self.running: set = set()
        self.stopped = False

    def now(self) -> float:
        return time.time() - self.t0

    def new_session(self) -> FastHttpSession:
        # Timeouts are the attempt's own (gevent.Timeout): none on the socket, so gevent makes no
        # timer per recv; retries are the policy's, never the client's.
        return FastHttpSession(None, self.environment.events.request, None, network_timeout=None,
                               connection_timeout=None, max_retries=0, concurrency=4)

    def locust_event(self, name: str, seconds: float, error: str) -> None:
        self.environment.events.request.fire(request_type="HTTP", name=name, response_time=seconds * 1000,
                                             response_length=0, exception=TimeoutError(error), context={})

    def claim(self) -> int | None:
        i = self.index + self.claimed * self.job["workers"]
        self.claimed += 1
        return i if i < self.job["size"] else None

    def boot(self, i: int) -> None:
        """Instance ``i``: its first attempt at its launch time, then replacements."""
        job, model = self.job, self.model
        rep = self.scenario.fleet.replacement
        rng = random.Random(f"{job['seed']}/{i}")
        launch = first = job["launches"][i]
        gevent.sleep(max(0.0, launch - self.now()))
        lag = self.now() - launch
        attempt = 1
        while not self.stopped:
            a = BootAttempt(self, i, attempt, instance_id(i, attempt), launch, first, rng)
            a.lag = lag if attempt == 1 else 0.0
            self.running.add(a)
            os_boot = model.os_boot(rng) if attempt == 1 or rep.mode == "replace" else 0.0
            try:
                outcome = a.run(os_boot)
            finally:
                self.running.discard(a)
            if outcome == "ready" or attempt >= job["max_attempts"] or self.stopped:
                return
            # the sim engine's formula, on the scaled clock
            gevent.sleep(rep.backoff.delay(attempt, rng) * job["scale"])
            launch = self.now()
            attempt += 1

    def stop(self, end: float) -> None:
        self.stopped = True
        for a in list(self.running):
            a.finish("unfinished", end, "", a._running_step() if hasattr(a, "pending") else "os_boot")
        self.recorder.flush()


def _flusher(ctx: WorkerContext) -> None:
    while not ctx.stopped:
        gevent.sleep(FLUSH)
        ctx.recorder.flush()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _on_start(environment, msg, **kw):
    global _CTX
    if os.environ.get("BOOTSTORM_LOAD_PROFILE"):  # benchmarks: where a worker's CPU goes
        import cProfile

        environment.bootstorm_profile = cProfile.Profile()
        environment.bootstorm_profile.enable()
    _CTX = WorkerContext(environment, msg.data["job"], msg.data["t0"])
    _CTX.cpu0 = _cpu_seconds()  # the run's own CPU, without Locust's start-up
    gevent.spawn(_flusher, _CTX)
    _READY.set()


def _on_stop(environment, msg, **kw):
    if _CTX is not None:
        _CTX.stop(msg.data["end"])
    profile = getattr(environment, "bootstorm_profile", None)
    if profile is not None:
        profile.disable()
        profile.dump_stats(f"{os.environ['BOOTSTORM_LOAD_PROFILE']}.{os.getpid()}")
    environment.runner.send_message("bootstorm_flushed", {
        "worker": _CTX.index if _CTX else -1,
        "cpu_seconds": _cpu_seconds() - _CTX.cpu0 if _CTX else None})


class VirtualInstance(User):
    """One virtual instance (a user never makes a second instance: it idles once done)."""

    wait_time = constant(3600)

    @task
    def boot(self):
        _READY.wait()
        i = _CTX.claim()
        if i is not None:
            _CTX.boot(i)
        while True:
            gevent.sleep(3600)


# -- master ------------------------------------------------------------------------------
class MasterState:
    def __init__(self, environment, folder: str):
        self.environment, self.folder = environment, folder
        with open(os.path.join(folder, "job.json")) as fh:
            self.job = json.load(fh)
        self.t0 = None
        self.records = open(os.path.join(folder, "records.jsonl"), "w")
        self.finished = 0
        self.flushed: set = set()
        self.worker_cpu: dict = {}
        self.cpu_max = 0.0
        self.ending = False

    def on_records(self, environment, msg, **kw):
        out = self.records
        for item in msg.data:
            if item[0] == "a" and item[1]["final"]:
                self.finished += 1
            out.write(json.dumps(item, separators=(",", ":")))
            out.write("\n")

    def on_flushed(self, environment, msg, **kw):
        self.flushed.add(msg.data["worker"])
        self.worker_cpu[str(msg.data["worker"])] = msg.data.get("cpu_seconds")

    def start(self):
        self.t0 = time.time() + START_LEAD
        self._status({"t0": self.t0})
        self.environment.runner.send_message("bootstorm_start", {"job": self.job, "t0": self.t0})
        gevent.spawn(self.watch)

    def watch(self):
        job, runner = self.job, self.environment.runner
        reason = "all instances done"
        while True:
            gevent.sleep(0.2)
            for worker in list(runner.clients.values()):
                self.cpu_max = max(self.cpu_max, float(getattr(worker, "cpu_usage", 0) or 0))
            now = time.time() - self.t0
            if self.finished >= job["size"]:
                break
            if os.path.exists(os.path.join(self.folder, "stop")):  # the engine was interrupted
                reason = "interrupted"
                break
            if now >= job["horizon"]:
                reason = "horizon"
                break
        self.ending = True
        end = min(now, job["horizon"])
        runner.send_message("bootstorm_stop", {"end": end})
        deadline = time.time() + STOP_WAIT
        while len(self.flushed) < job["workers"] and time.time() < deadline:
            gevent.sleep(0.1)
        self.records.close()
        self._status({"t0": self.t0, "end": end, "reason": reason, "finished": self.finished,
                      "worker_cpu_max_percent": self.cpu_max, "workers_flushed": len(self.flushed),
                      "worker_cpu_seconds": self.worker_cpu,
                      "workers": job["workers"]})
        runner.quit()

    def _status(self, data):
        tmp = os.path.join(self.folder, "status.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, os.path.join(self.folder, "status.json"))


_MASTER: MasterState | None = None


class BootstormShape(LoadTestShape):
    """Users for every launch due within LOOKAHEAD, plus one spare per worker (a worker whose
    users came in a different order than its share claims the next instance early; it sleeps)."""

    def tick(self):
        st = _MASTER
        if st is None:
            return None
        job = st.job
        if st.t0 is None:
            st.start()
        now = time.time() - st.t0
        due = bisect.bisect_right(job["launches"], now + LOOKAHEAD)
        return (min(job["size"], due) + job["workers"], SPAWN_RATE)


@events.init.add_listener
def _init(environment, **kw):
    global _MASTER
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        _MASTER = MasterState(environment, os.environ["BOOTSTORM_LOAD_DIR"])
        runner.register_message("bootstorm_records", _MASTER.on_records)
        runner.register_message("bootstorm_flushed", _MASTER.on_flushed)
    elif isinstance(runner, WorkerRunner):
        runner.register_message("bootstorm_start", _on_start)
        runner.register_message("bootstorm_stop", _on_stop)
