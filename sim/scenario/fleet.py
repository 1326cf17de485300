"""The fleet: how many instances launch, when, and what happens to the ones that fail."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.distributions import DistributionSpec, LogNormal
from sim.scenario.rates import RateTimeline
from sim.units import Duration, PositiveDuration

__all__ = ["Fleet", "ArrivalSpec", "Replacement", "RestartBackoff"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Burst(_Model):
    """Every instance launches at once (a scale-out request the cloud honours immediately)."""

    kind: Literal["burst"] = Field(description="All instances at `at`.")
    at: Duration = Field(0.0, description="When the burst happens.")


class Ramp(_Model):
    """Launches spread evenly over a time window (``over``), or evenly paced by a rate that may
    change over time (``rate``: the n-th launch when n launches' worth of rate has passed)."""

    kind: Literal["ramp"] = Field(description="Linear ramp.")
    start: Duration = Field(0.0, description="First launch.")
    over: PositiveDuration | None = Field(
        None, description="Window the launches are spread over (or give `rate`)."
    )
    rate: RateTimeline | None = Field(
        None, description="Launches per second, a number or a timeline (instead of `over`)."
    )

    @model_validator(mode="after")
    def _over_or_rate(self):
        if (self.over is None) == (self.rate is None):
            raise ValueError(
                "expected exactly one of `over` (the window, e.g. 2m) or `rate` (launches per "
                f"second or a timeline), got {'both' if self.over is not None else 'neither'}"
            )
        return self


class Poisson(_Model):
    """Launches as a Poisson process until the fleet size is reached; with a rate timeline, a
    non-homogeneous Poisson process (the rate may spike and fall)."""

    kind: Literal["poisson"] = Field(description="Poisson arrivals.")
    rate: RateTimeline = Field(
        description="Launches per second: a number, or a timeline [{at: 0s, rate: 2}, ...]."
    )
    start: Duration = Field(0.0, description="When arrivals begin.")


class Step(_Model):
    at: Duration = Field(description="When this step's instances launch.")
    count: int = Field(ge=0, strict=True, description="How many launch at that moment.")


class Steps(_Model):
    """A step schedule: `count` instances at each `at` (the counts must add up to the size)."""

    kind: Literal["steps"] = Field(description="Step schedule.")
    steps: list[Step] = Field(min_length=1, description="Launch steps in time order.")

    @model_validator(mode="after")
    def _ordered(self):
        times = [s.at for s in self.steps]
        if times != sorted(times):
            raise ValueError("steps must be in time order (each `at` >= the one before)")
        return self


class Autoscaling(_Model):
    """An autoscaling group asking for the whole fleet at `at`, through EC2's launch bucket:
    a burst allowance, then a steady refill rate (EC2 defaults: 1,000 then 2 launches/s)."""

    kind: Literal["autoscaling"] = Field(description="Autoscaling request through a launch bucket.")
    at: Duration = Field(0.0, description="When the scale-out is requested.")
    burst: int = Field(1000, ge=1, strict=True, description="Launches allowed at once (bucket size).")
    refill_rate: RateTimeline = Field(
        2.0, description="Launches per second once the burst is spent: a number or a timeline."
    )


ArrivalSpec = Annotated[
    Union[Burst, Ramp, Poisson, Steps, Autoscaling], Field(discriminator="kind")
]


class RestartBackoff(_Model):
    """Delay before a failed instance is restarted or replaced, like a crash-loop backoff:
    ``min(cap, base * multiplier**(failures-1))``, with full jitter if asked."""

    base: Duration = Field(10.0, description="Delay after the first failure.")
    multiplier: float = Field(2.0, ge=1.0, description="Growth per failure.")
    cap: Duration = Field(300.0, description="Longest delay (Kubernetes CrashLoopBackOff: 5m).")
    jitter: bool = Field(False, description="Draw the delay uniformly in [0, computed].")

    def delay(self, failures: int, rng) -> float:
        """Seconds before the next attempt after ``failures`` failed ones (scenario seconds;
        every engine uses this one formula; with jitter it draws once from ``rng``)."""
        delay = min(self.cap, self.base * self.multiplier ** (failures - 1))
        return rng.uniform(0.0, delay) if self.jitter else delay


class Replacement(_Model):
    """What happens to an instance whose boot failed or hung."""

    enabled: bool = Field(False, description="Restart or replace failed instances (crash loops).")
    mode: Literal["restart", "replace"] = Field(
        "replace",
        description="restart: the bootstrap runs again on the same instance (no OS boot); "
        "replace: a new instance launches and boots its OS first.",
    )
    max_attempts: int = Field(
        5, ge=1, strict=True, description="Boot attempts per instance slot, the first one included."
    )
    backoff: RestartBackoff = Field(default_factory=RestartBackoff, description="Restart backoff.")


def _default_os_boot():
    return LogNormal(kind="lognormal", median=25.0, p99=45.0)


class Fleet(_Model):
    # strict: YAML's `yes`/`true` is not a count of 1.
    size: int = Field(ge=1, le=10_000_000, strict=True, description="Instances to launch.")
    arrival: ArrivalSpec = Field(
        default_factory=lambda: Burst(kind="burst"), description="When instances launch."
    )
    os_boot: DistributionSpec = Field(
        default_factory=_default_os_boot,
        description="Launch to bootstrap start (about 25 s on EC2 for a booted OS).",
    )
    replacement: Replacement = Field(default_factory=Replacement, description="Crash-loop handling.")
    health_check_grace: PositiveDuration | None = Field(
        None,
        description="An attempt not ready this long after its launch is killed and counted as "
        "hung (like an ASG health-check grace period); null waits forever.",
    )

    @model_validator(mode="after")
    def _steps_add_up(self):
        if isinstance(self.arrival, Steps):
            total = sum(s.count for s in self.arrival.steps)
            if total != self.size:
                raise ValueError(
                    f"arrival.steps counts add up to {total}, expected fleet.size = {self.size}"
                )
        return self
