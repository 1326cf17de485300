"""The ``exec:`` section: how the exec engine runs the user's own bootstrap script.

The sim engine ignores it. Times here are wall-clock seconds of the real run except where a
field says it is scaled: ``time_scale`` shrinks the scenario's own times (arrivals, faults,
restart backoff, health-check grace, horizon) so a 30-minute story can run in 3 minutes,
while the script itself runs at its natural speed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sim.units import PositiveDuration

__all__ = ["ExecSpec", "DEFAULT_EXEC_INSTANCES"]

# Real processes on a shared 2-core machine: 50 boots at once is a storm already.
DEFAULT_EXEC_INSTANCES = 50


class ExecSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = Field(
        None,
        description="Shell command line that boots one instance (run with /bin/sh -c in the "
        "folder bootstorm was started in; HOME is the instance's root directory); overrides "
        "bootstrap.command.",
    )
    instances: int | None = Field(
        None, ge=1, le=100_000,
        description="How many instances the exec engine launches (fleet.size is for the sim "
        f"engine); null: min(fleet.size, {DEFAULT_EXEC_INSTANCES}). The arrival shape is kept.",
    )
    boot_timeout: PositiveDuration = Field(
        600.0,
        description="Wall-clock seconds (not scaled) one attempt may run before its whole "
        "process group is killed (SIGTERM, then SIGKILL) and the attempt counted as hung.",
    )
    kill_grace: PositiveDuration = Field(
        2.0, description="Seconds between SIGTERM and SIGKILL when a process group is stopped."
    )
    ready_when: Literal["registered", "exit_zero", "both"] = Field(
        "both",
        description="When an attempt counts as ready: registered (the registry sink saw the "
        "instance register), exit_zero (the script exited 0), or both (the later of the two).",
    )
    idempotency_check: bool = Field(
        False,
        description="After a ready boot, run the script a second time on the same root and "
        "instance, and report what the second run did (duplicate registrations, calls, exit).",
    )
    time_scale: float = Field(
        1.0, gt=0, le=1000,
        description="Multiply every scenario time (arrivals, faults, restart backoff, "
        "health-check grace, horizon) by this; 0.1 runs a 30-minute story in 3 minutes.",
    )
    max_parallel: int = Field(
        200, ge=1, le=10_000,
        description="Most instance processes running at once; launches beyond it wait.",
    )
    nice: int = Field(
        10, ge=0, le=19,
        description="Niceness of every bootstrap process: the fakes stand for services on other "
        "machines, so the bootstraps under test must not starve them of CPU (0: same priority).",
    )
    isolation: Literal["auto", "netns", "env"] = Field(
        "auto",
        description="How an instance's process reaches the fakes: netns (its own network "
        "namespace: 169.254.169.254 is its own IMDS, the AWS endpoints reach the gate, nothing "
        "else; needs root), env (the host's network, IMDS via AWS_EC2_METADATA_SERVICE_ENDPOINT), "
        "or auto (netns where possible, else env). See docs/exec-engine.md.",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables for the script (the caller's environment is "
        "not passed on: only PATH, LANG, PYTHONPATH and what the fakes give an instance).",
    )
    keep_files: bool = Field(
        False,
        description="Keep the run's temporary directory (instance roots, stdout/stderr per "
        "attempt) instead of removing it; its path is written into the run's warnings.",
    )
    findings: dict[str, float] = Field(
        default_factory=dict,
        description="Thresholds for the exec findings (fields of "
        "sim.engines.exec.findings.FindingConfig, e.g. calls per boot); empty: its defaults.",
    )
