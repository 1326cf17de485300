"""What a finding is judged from, and what it says: evidence, thresholds, findings.

``AttemptEvidence`` is everything the engine observed about one attempt (run-relative times);
``FindingConfig`` holds every threshold of the rules (`sim.engines.exec.findings.rules`);
``findings_column`` is the AttemptTable's ``findings`` cell.

``duplicate_registrations`` is carried for the report but judged by no rule: the registry sink
deduplicates a repeated registration, so a retried register call is not a defect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FINDING_NAMES", "SecondRun", "AttemptEvidence", "Finding", "FindingConfig", "findings_column"]

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


def findings_column(findings: list[Finding]) -> str:
    """The AttemptTable ``findings`` cell: unique names, ``;``-joined, in FINDING_NAMES order."""
    names = {f.name for f in findings}
    bad = [n for n in names if ";" in n or not n]
    if bad:
        raise ValueError(f"finding names must be non-empty and free of ';', got {bad!r}")
    order = {name: i for i, name in enumerate(FINDING_NAMES)}
    return ";".join(sorted(names, key=lambda n: (order.get(n, len(order)), n)))
