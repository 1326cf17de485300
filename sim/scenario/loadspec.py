"""The ``load:`` section: how the load engine runs the scenario's bootstrap DAG on Locust.

The sim and exec engines ignore it. Virtual instances are Locust users that make the
scenario's calls over real HTTP against the fakes; ``time_scale`` compresses the scenario's
own clock (arrivals, faults, restart backoff, health-check grace, horizon) the way
``exec.time_scale`` does, while calls, timeouts, retry delays and local work keep their
durations. A compressed run says so in its warnings.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LoadSpec", "DEFAULT_LOAD_INSTANCES"]

# The fakes behind one machine: moto answers a few hundred calls/s, so a thousand virtual
# instances already make a storm there.
DEFAULT_LOAD_INSTANCES = 1000


class LoadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instances: int | None = Field(
        None, ge=1, le=1_000_000,
        description="How many virtual instances the load engine launches; null: "
        f"min(fleet.size, {DEFAULT_LOAD_INSTANCES}). The arrival shape is kept.",
    )
    time_scale: float = Field(
        1.0, gt=0, le=1000,
        description="Multiply the scenario's clock (arrivals, faults, restart backoff, "
        "health-check grace, horizon) by this; calls, timeouts, retry delays and local work "
        "keep their durations. Stated in the run's warnings when not 1.",
    )
    workers: int | None = Field(
        None, ge=1, le=1024,
        description="Local Locust worker processes (null: one per core); `--workers` overrides.",
    )
