"""Findings: what a real bootstrap did wrong, judged from evidence after each attempt.

The runner collects an :class:`AttemptEvidence` per attempt (captured streams, the instance
root, CPU, the fakes' request log and sink stamps, an optional second run) and calls
:func:`attempt_findings`; at the end of the run it calls :func:`fleet_findings` over every
instance's requests. :func:`findings_column` gives the ``findings`` column of the AttemptTable.
Every threshold is a field of :class:`FindingConfig`. The rules:

``secret_exposure``
    A planted secret value (at least ``min_secret_length`` characters; shorter ones would match
    by chance) appears in the attempt's stdout or stderr, or in a regular file under ``root``
    whose mode grants any group/other bit (``mode & 0o077``). Besides the raw value count: its
    URL-encoded forms (``quote``/``quote_plus``), its standard and URL-safe base64 forms at all
    three byte alignments (so a value inside a larger base64 blob is caught too), and the
    string fields of a JSON object value (reported as ``key.field``).
    Files are streamed in ``chunk_bytes`` blocks keeping an overlap, so a value spanning a
    block boundary is found. Symlinks and non-regular files are skipped, directories are not
    entered through links, so nothing outside ``root`` is read. Directory modes are ignored (a
    0644 file in a 0700 directory counts). The detail names the place and the secret's key
    (``stdout: secret 'db' (base64)``, ``file data/s.txt (mode 0644): ...``), never its value:
    every detail is scrubbed of every searched form before it leaves this module.
``busy_wait``
    CPU seconds per wall second above ``busy_cpu_share`` while the attempt was failing, over
    at least ``busy_min_wall`` seconds of failing. In a ready attempt, failing spans run from
    the end of an error answer to the start of the next successful call; an attempt that did
    not become ready was failing from its first error answer to its end, or throughout when it
    saw none (a reset connection leaves no answer). CPU in a span comes from the runner's samples of the group's cumulative CPU
    (``cpu_samples``), interpolated linearly; without samples the attempt's average is used.
    So a correct script that starts a heavy CLI, waits a second after one blip and goes on is
    not judged by its start-up CPU: only what it burns while working around the failure.
``no_backoff``
    Per (service, operation) of this instance, a chain of calls where each call but the last
    failed; a *gap* is the wait between a failed answer and the next call (start of the retry
    minus end of the failed call; end = ``t + latency``, or ``t`` when latency is unknown). A
    chain with at least ``no_backoff_min_retries`` retries is flagged when every gap is below
    ``no_backoff_tight_gap`` (an immediate-retry loop), or when it has at least
    ``no_backoff_flat_min_retries`` retries and its largest gap is at most
    ``no_backoff_flat_ratio`` times its smallest (a fixed interval, ``sleep 1`` in a loop).
    Only calls that reached a fake are seen: retries swallowed by a partition are invisible.
    False alarms: a chain of exactly three retries under full jitter with a 100 ms base has all
    three sleeps under 50 ms with probability 0.5 * 0.25 * 0.125 = 1.6 % (12.5 % with a 50 ms
    base); with four retries 0.2 % (1.6 %). Longer chains escape, as later sleeps are drawn
    from wider ranges, while a real tight loop makes dozens. Parallel calls of one operation
    (several secrets fetched at once, all failing) look like retries: the log does not say which
    secret. A CLI started per try (``until aws ...; do :; done``) waits its own start-up time
    between tries, so it shows as a fixed interval, not as immediate retries.
``synchronized_retries`` (fleet)
    A retry is a call whose previous call by the same instance to the same (service, operation)
    failed. Flagged when some window of ``sync_window`` seconds holds more than ``sync_share``
    of all retries and retries from at least ``sync_min_instances`` instances. The window
    slides (no fixed bins), so a burst straddling a bin edge is still one burst.
``hang``
    The harness killed the attempt at the boot timeout while a fault in ``hang_fault_kinds``
    (a partition) was in force: some network call has no timeout.
``not_idempotent``
    The second run (when the runner did one) exited non-zero or never exited, registered
    again, or changed/created files (names listed, at most ``max_names``).
``ready_before_telemetry``
    The app reported to the telemetry sink before the agent did, or the agent never did.

``duplicate_registrations`` is carried for the report but judged by no rule: the registry sink
deduplicates a repeated registration, so a retried register call is not a defect.

Request dicts (``AttemptEvidence.requests`` and :func:`fleet_findings`) have run-relative
``t`` (seconds; the gate stamps a call on arrival, IMDS when it answers), ``service``,
``operation``, ``status``, ``error_code``, ``latency`` (seconds or None), and for the fleet
``instance_id``. A call failed when it has an error code, a status >= 400, or no numeric status.
:func:`requests_from_log` turns ``fakes.stack`` request-log entries into that shape (keeping
``source``, the fake that logged it).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from sim.engines.exec import secrets
from sim.engines.exec.busy import cpu_between, failing_spans

__all__ = [
    "FINDING_NAMES",
    "AttemptEvidence",
    "SecondRun",
    "Finding",
    "FindingConfig",
    "attempt_findings",
    "fleet_findings",
    "findings_column",
    "requests_from_log",
    "failed_call",
]

FINDING_NAMES = (
    "secret_exposure",
    "busy_wait",
    "no_backoff",
    "hang",
    "not_idempotent",
    "ready_before_telemetry",
    "synchronized_retries",
)


@dataclass
class SecondRun:
    """The idempotency check: the script run a second time on the same root."""

    exit_code: int | None  # None: it did not exit (killed at its timeout)
    extra_registrations: int = 0  # registrations the second run added
    changed_files: list[str] = field(default_factory=list)  # relative paths changed or created


@dataclass
class AttemptEvidence:
    """Everything the runner observed about one boot attempt. Times are run-relative seconds."""

    instance_id: str
    attempt: int
    root: Path | None  # the instance root directory (its "disk"); None: nothing to scan
    stdout: Path | None  # captured streams of this attempt; None or missing: not captured
    stderr: Path | None
    start: float
    end: float
    cpu_seconds: float  # user+sys of the process group; NaN when unknown
    outcome: str  # ready | failed | hung | unfinished
    killed_at_timeout: bool = False
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)  # (t, CPU seconds so far)
    faults_at_end: list[str] = field(default_factory=list)  # fault kinds in force at the end
    requests: list[dict] = field(default_factory=list)  # this instance's calls (see module doc)
    registered_at: float | None = None
    duplicate_registrations: int = 0
    first_agent_event: float | None = None
    first_app_event: float | None = None
    second_run: SecondRun | None = None


@dataclass(frozen=True)
class Finding:
    name: str  # one of FINDING_NAMES
    detail: str  # where and what; never a secret value


@dataclass(frozen=True)
class FindingConfig:
    """Thresholds of the rules (see the module docstring); times in seconds."""

    min_secret_length: int = 8  # characters
    chunk_bytes: int = 1 << 20
    # CPU seconds per wall second. A failing bootstrap that waits between tries is nearly idle;
    # a tight loop takes all it can get, which on a loaded 2-core machine shared with the
    # fakes and other instances (at nice 10) is often well under half a core.
    busy_cpu_share: float = 0.25
    busy_min_wall: float = 2.0
    no_backoff_min_retries: int = 3
    no_backoff_tight_gap: float = 0.05
    no_backoff_flat_min_retries: int = 4
    no_backoff_flat_ratio: float = 1.5  # largest gap / smallest gap
    sync_window: float = 0.1
    sync_share: float = 0.2  # of all retries in the run
    sync_min_instances: int = 10
    hang_fault_kinds: tuple[str, ...] = ("partition",)
    max_names: int = 5  # changed files listed in a not_idempotent detail

    def __post_init__(self) -> None:
        # Thresholds may come from a scenario file: name the field and the value given.
        counts = ("min_secret_length", "chunk_bytes", "no_backoff_min_retries",
                  "no_backoff_flat_min_retries", "sync_min_instances", "max_names")
        numbers = ("busy_cpu_share", "busy_min_wall", "no_backoff_tight_gap", "no_backoff_flat_ratio",
                   "sync_window", "sync_share")
        for name in counts + numbers:
            value = getattr(self, name)
            if name in counts and isinstance(value, float) and value.is_integer():
                value = int(value)  # a schema typed dict[str, float] hands counts over as 4.0
                object.__setattr__(self, name, value)
            kinds = int if name in counts else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
                what = "a positive whole number" if name in counts else "a positive number"
                raise ValueError(f"FindingConfig.{name}: expected {what}, got {value!r}")
        if self.sync_share >= 1:
            raise ValueError(f"FindingConfig.sync_share: expected a share below 1, got {self.sync_share!r}")
        if self.no_backoff_flat_ratio < 1:
            raise ValueError(f"FindingConfig.no_backoff_flat_ratio: expected >= 1, got {self.no_backoff_flat_ratio!r}")
        if isinstance(self.hang_fault_kinds, str):
            raise ValueError(f"FindingConfig.hang_fault_kinds: expected a list of fault kinds, "
                             f"got {self.hang_fault_kinds!r}")
        object.__setattr__(self, "hang_fault_kinds", tuple(self.hang_fault_kinds))


# -- requests ----------------------------------------------------------------------------


def requests_from_log(entries: Iterable[Mapping], run_start: float) -> list[dict]:
    """``fakes.stack`` request-log entries (epoch ``time``, ``latency_ms``) as request dicts."""
    out = []
    for e in entries:
        ms = e.get("latency_ms")
        out.append({
            "t": e["time"] - run_start,
            "instance_id": e.get("instance_id"),
            "service": e["service"],
            "operation": e["operation"],
            "status": e.get("status"),
            "error_code": e.get("error_code"),
            "latency": None if ms is None else ms / 1000.0,
            "source": e.get("source"),  # which fake logged it, for validity.peak_rates
        })
    return out


def failed_call(req: Mapping) -> bool:
    """An error answer: an error code, a status >= 400, or no HTTP status at all."""
    status = req.get("status")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    return bool(req.get("error_code")) or not isinstance(status, int) or status == 0 or status >= 400


def _retry_gaps(requests: Iterable[Mapping]) -> dict[tuple[str, str], list[list[float]]]:
    """Per (service, operation): the gap lists of its failure chains, in time order."""
    by_op: dict[tuple[str, str], list[Mapping]] = defaultdict(list)
    for req in sorted(requests, key=lambda r: r["t"]):
        by_op[(req["service"], req["operation"])].append(req)
    chains: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for op, calls in by_op.items():
        gaps: list[float] = []
        for prev, cur in zip(calls, calls[1:]):
            if failed_call(prev):
                ended = prev["t"] + (prev.get("latency") or 0.0)
                gaps.append(max(0.0, cur["t"] - ended))
            elif gaps:
                chains[op].append(gaps)
                gaps = []
        if gaps:
            chains[op].append(gaps)
    return chains


def _no_backoff(ev: AttemptEvidence, cfg: FindingConfig) -> list[Finding]:
    out = []
    for (service, operation), chains in _retry_gaps(ev.requests).items():
        for gaps in chains:
            if len(gaps) < cfg.no_backoff_min_retries:
                continue
            low, high = min(gaps), max(gaps)
            tight = high < cfg.no_backoff_tight_gap
            flat = len(gaps) >= cfg.no_backoff_flat_min_retries and high <= cfg.no_backoff_flat_ratio * low
            if tight or flat:
                kind = "immediate retries" if tight else "fixed interval"
                out.append(Finding("no_backoff", (
                    f"{service}.{operation}: {len(gaps)} retries, gaps {low * 1000:.0f}-{high * 1000:.0f} ms "
                    f"({kind})")))
                break  # one finding per operation is enough
    return out


# -- secrets (the scanning itself lives in secrets.py) ---------------------------------


def _secret_exposure(ev: AttemptEvidence, needles, cfg: FindingConfig) -> list[Finding]:
    if not needles:
        return []
    out = []
    streams = [("stdout", ev.stdout)]
    if ev.stderr is not None and ev.stderr != ev.stdout:  # 2>&1 captures into one file
        streams.append(("stderr", ev.stderr))
    for place, path in streams:
        found = secrets.scan_stream(path, needles, cfg.chunk_bytes)
        if found:
            out.append(Finding("secret_exposure", f"{place}: {secrets.describe(found)}"))
    if ev.root is not None and Path(ev.root).is_dir():
        for rel, mode, found in secrets.exposed_files(Path(ev.root), needles, cfg.chunk_bytes):
            out.append(Finding("secret_exposure", f"file {rel} (mode {mode:04o}): {secrets.describe(found)}"))
    return out


# -- the other attempt rules -------------------------------------------------------------


def _busy_wait(ev: AttemptEvidence, cfg: FindingConfig) -> list[Finding]:
    wall = ev.end - ev.start
    if not (math.isfinite(ev.cpu_seconds) and math.isfinite(wall)) or wall <= 0:
        return []
    spans = failing_spans(ev.requests, ev.outcome, ev.start, ev.end, failed_call)
    failing = sum(hi - lo for lo, hi in spans)
    if failing < cfg.busy_min_wall:
        return []
    cpu = sum(cpu_between(ev.cpu_samples, ev.start, ev.end, ev.cpu_seconds, lo, hi) for lo, hi in spans)
    share = cpu / failing
    if share <= cfg.busy_cpu_share:
        return []
    return [Finding("busy_wait", f"{cpu:.2f} CPU s over {failing:.2f} s of failing "
                                 f"({share:.0%} of a core; {ev.outcome})")]


def _hang(ev: AttemptEvidence, cfg: FindingConfig) -> list[Finding]:
    faults = sorted(set(ev.faults_at_end) & set(cfg.hang_fault_kinds))
    if not (ev.killed_at_timeout and faults):
        return []
    return [Finding("hang", f"killed at the boot timeout (t={ev.end:.2f} s) during {', '.join(faults)}: "
                            "a network call without a timeout")]


def _not_idempotent(ev: AttemptEvidence, cfg: FindingConfig) -> list[Finding]:
    run = ev.second_run
    if run is None:
        return []
    reasons = []
    if run.exit_code is None:
        reasons.append("second run did not exit")
    elif run.exit_code != 0:
        reasons.append(f"second run exited {run.exit_code}")
    if run.extra_registrations > 0:
        reasons.append(f"registered {run.extra_registrations} more time(s)")
    if run.changed_files:
        names = sorted(run.changed_files)
        more = len(names) - cfg.max_names
        listed = ", ".join(names[: cfg.max_names]) + (f" and {more} more" if more > 0 else "")
        reasons.append(f"changed {len(names)} file(s): {listed}")
    return [Finding("not_idempotent", "; ".join(reasons))] if reasons else []


def _ready_before_telemetry(ev: AttemptEvidence) -> list[Finding]:
    app, agent = ev.first_app_event, ev.first_agent_event
    if app is None:
        return []
    if agent is None:
        return [Finding("ready_before_telemetry", f"app reported at t={app:.2f} s, the agent never did")]
    if app < agent:
        return [Finding("ready_before_telemetry",
                        f"app reported at t={app:.2f} s, {agent - app:.2f} s before the agent")]
    return []


def attempt_findings(ev: AttemptEvidence, planted: Mapping[str, str],
                     cfg: FindingConfig = FindingConfig()) -> list[Finding]:
    """Every finding of one attempt; ``planted`` maps a secret's key to the value planted."""
    forms = secrets.needles(planted, cfg.min_secret_length)
    found = (_secret_exposure(ev, forms, cfg) + _busy_wait(ev, cfg) + _no_backoff(ev, cfg)
             + _hang(ev, cfg) + _not_idempotent(ev, cfg) + _ready_before_telemetry(ev))
    return [Finding(f.name, secrets.scrub(f.detail, forms)) for f in found]


# -- fleet -------------------------------------------------------------------------------


def fleet_findings(all_requests: list[dict], cfg: FindingConfig = FindingConfig()) -> list[Finding]:
    """``synchronized_retries`` over every instance's requests (each with ``instance_id``)."""
    last_failed: dict[tuple, bool] = {}
    retries: list[tuple[float, str]] = []
    for req in sorted(all_requests, key=lambda r: r["t"]):
        if req.get("instance_id") is None:
            continue  # calls the fakes could not attribute would join unrelated instances
        key = (req["instance_id"], req["service"], req["operation"])
        if last_failed.get(key):
            retries.append((req["t"], str(req["instance_id"])))
        last_failed[key] = failed_call(req)
    if not retries:
        return []
    best, best_at, lo = 0, 0, 0
    for hi in range(len(retries)):  # retries are in time order: a two-pointer sliding window
        while retries[hi][0] - retries[lo][0] >= cfg.sync_window:
            lo += 1
        if hi - lo + 1 > best:
            best, best_at = hi - lo + 1, lo
    window = retries[best_at : best_at + best]
    instances = len({iid for _, iid in window})
    share = best / len(retries)
    if share <= cfg.sync_share or instances < cfg.sync_min_instances:
        return []
    return [Finding("synchronized_retries", (
        f"{best} of {len(retries)} retries ({share:.0%}) from {instances} instances within "
        f"{cfg.sync_window * 1000:.0f} ms of t={window[0][0]:.2f} s"))]


def findings_column(findings: list[Finding]) -> str:
    """The AttemptTable ``findings`` cell: unique names, ``;``-joined, in FINDING_NAMES order."""
    names = {f.name for f in findings}
    bad = [n for n in names if ";" in n or not n]
    if bad:
        raise ValueError(f"finding names must be non-empty and free of ';', got {bad!r}")
    order = {name: i for i, name in enumerate(FINDING_NAMES)}
    return ";".join(sorted(names, key=lambda n: (order.get(n, len(order)), n)))
