"""Findings: what a real bootstrap did wrong, judged from evidence after each attempt.

The engine collects an `AttemptEvidence` per attempt (captured streams, the instance root, CPU,
the fakes' request log and sink stamps, an optional second run) and calls `attempt_findings`;
at the end of the run it calls `fleet_findings` over every instance's requests.
`findings_column` gives the ``findings`` column of the AttemptTable. Every threshold is a field
of `FindingConfig`.

Modules: ``evidence`` (the evidence, the thresholds, a finding), ``rules`` (the per-attempt
rules: secret_exposure, busy_wait, no_backoff, hang, not_idempotent, ready_before_telemetry;
their definitions are its docstring), ``fleet`` (synchronized_retries), ``secrets`` (finding
planted secrets without showing them), ``busy`` (failing spans and the CPU spent in them).
Which calls failed and which are retries is `sim.engines.exec.calls`.
"""

from sim.engines.exec.calls import failed_call, requests_from_log
from sim.engines.exec.findings.evidence import (FINDING_NAMES, AttemptEvidence, Finding, FindingConfig,
                                                SecondRun, findings_column)
from sim.engines.exec.findings.fleet import fleet_findings
from sim.engines.exec.findings.rules import attempt_findings

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
