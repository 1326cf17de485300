"""The per-attempt rules: what one real bootstrap did wrong, from its `AttemptEvidence`.

Every threshold is a field of `FindingConfig`; `attempt_findings` runs every rule and scrubs
the details of every planted secret's forms. The rules:

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
``hang``
    The harness killed the attempt at the boot timeout while a fault in ``hang_fault_kinds``
    (a partition) was in force: some network call has no timeout.
``not_idempotent``
    The second run (when the runner did one) exited non-zero or never exited, registered
    again, or changed/created files (names listed, at most ``max_names``).
``ready_before_telemetry``
    The app reported to the telemetry sink before the agent did, or the agent never did.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping

from sim.engines.exec.calls import failed_call
from sim.engines.exec.findings import secrets
from sim.engines.exec.findings.busy import cpu_between, failing_spans
from sim.engines.exec.findings.evidence import AttemptEvidence, Finding, FindingConfig

__all__ = ["attempt_findings"]


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
