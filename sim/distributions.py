"""Duration distributions as a scenario writes them, and fast samplers for the engines.

A scenario may write a plain duration (``2s`` is a constant) or a mapping with ``kind``:
constant, uniform, normal, exponential, lognormal (by ``median`` and ``p99``, or by ``mu`` and
``sigma``), empirical (a list of observed samples). Samplers take a ``random.Random`` and return
seconds; they never return a negative number (normal is truncated at 0).
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Callable, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sim.units import Duration, PositiveDuration, parse_duration

__all__ = [
    "DistributionSpec",
    "Sampler",
    "sampler",
    "mean_of",
    "Constant",
    "Uniform",
    "Normal",
    "Exponential",
    "LogNormal",
    "Empirical",
]

Sampler = Callable[[random.Random], float]

# z-score of the 99th percentile of a standard normal: lognormal sigma from a median and a p99.
_Z99 = 2.3263478740408408


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constant(_Spec):
    kind: Literal["constant"] = "constant"
    value: Duration = Field(description="Always this long.")


class Uniform(_Spec):
    kind: Literal["uniform"]
    low: Duration = Field(description="Shortest value.")
    high: Duration = Field(description="Longest value.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}s) must be >= low ({self.low}s)")
        return self


class Normal(_Spec):
    kind: Literal["normal"]
    mean: Duration = Field(description="Mean.")
    stddev: Duration = Field(description="Standard deviation; values below 0 are cut to 0.")


class Exponential(_Spec):
    kind: Literal["exponential"]
    mean: PositiveDuration = Field(description="Mean (1/rate).")


class LogNormal(_Spec):
    kind: Literal["lognormal"]
    median: PositiveDuration | None = Field(None, description="Median (give with p99).")
    p99: PositiveDuration | None = Field(None, description="99th percentile (give with median).")
    mu: float | None = Field(None, description="Mean of ln(seconds) (give with sigma).")
    sigma: float | None = Field(None, ge=0, description="Stddev of ln(seconds) (give with mu).")

    @model_validator(mode="after")
    def _one_form(self):
        by_quantiles = self.median is not None or self.p99 is not None
        by_params = self.mu is not None or self.sigma is not None
        if by_quantiles == by_params:
            raise ValueError("give either median and p99, or mu and sigma")
        if by_quantiles and (self.median is None or self.p99 is None):
            raise ValueError("median and p99 go together")
        if by_params and (self.mu is None or self.sigma is None):
            raise ValueError("mu and sigma go together")
        if by_quantiles and self.p99 < self.median:
            raise ValueError(f"p99 ({self.p99}s) must be >= median ({self.median}s)")
        return self

    def params(self) -> tuple[float, float]:
        if self.median is not None:
            return math.log(self.median), math.log(self.p99 / self.median) / _Z99
        return self.mu, self.sigma


def _samples(value: object) -> object:
    if isinstance(value, list):
        return [parse_duration(v) for v in value]
    return value


class Empirical(_Spec):
    kind: Literal["empirical"]
    samples: Annotated[list[float], BeforeValidator(_samples)] = Field(
        min_length=1, description="Observed durations; each draw picks one uniformly."
    )


def _plain_duration(value: object) -> object:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"kind": "constant", "value": value}
    return value


DistributionSpec = Annotated[
    Annotated[
        Union[Constant, Uniform, Normal, Exponential, LogNormal, Empirical],
        Field(discriminator="kind"),
    ],
    BeforeValidator(_plain_duration),
]


def sampler(spec) -> Sampler:
    """A function ``rng -> seconds`` for ``spec``; bound methods keep it fast on the hot path."""
    if isinstance(spec, Constant):
        value = spec.value
        return lambda rng: value
    if isinstance(spec, Uniform):
        low, high = spec.low, spec.high
        return lambda rng: rng.uniform(low, high)
    if isinstance(spec, Normal):
        mean, sd = spec.mean, spec.stddev
        return lambda rng: max(0.0, rng.gauss(mean, sd))
    if isinstance(spec, Exponential):
        rate = 1.0 / spec.mean
        return lambda rng: rng.expovariate(rate)
    if isinstance(spec, LogNormal):
        mu, sigma = spec.params()
        return _lognormal(mu, sigma)
    if isinstance(spec, Empirical):
        samples = tuple(spec.samples)
        return lambda rng: rng.choice(samples)
    raise TypeError(f"not a distribution spec: {spec!r}")


def _lognormal(mu: float, sigma: float) -> Sampler:
    """``exp(rng.gauss(mu, sigma))``, draw for draw, with ``Random.gauss`` inlined.

    exp(gauss) rather than lognormvariate: same distribution, gauss's Box-Muller is about
    twice as fast as normalvariate's rejection loop. Inlined because the sim engine draws a
    service time per call (tens of millions for a million instances). It is CPython's
    ``Random.gauss`` line for line, including the second value it keeps in ``gauss_next`` (part
    of ``getstate()``), so runs do not change; ``tests/unit/test_distributions_fast.py`` checks
    it against ``rng.gauss`` on this Python.
    """
    exp, log, sqrt, cos, sin = math.exp, math.log, math.sqrt, math.cos, math.sin
    two_pi = 2.0 * math.pi

    def draw(rng: random.Random) -> float:
        z = rng.gauss_next
        rng.gauss_next = None
        if z is None:
            x2pi = rng.random() * two_pi
            g2rad = sqrt(-2.0 * log(1.0 - rng.random()))
            z = cos(x2pi) * g2rad
            rng.gauss_next = sin(x2pi) * g2rad
        return exp(mu + z * sigma)

    return draw


def mean_of(spec) -> float:
    """The distribution's mean in seconds (for capacity estimates and validity checks)."""
    if isinstance(spec, Constant):
        return spec.value
    if isinstance(spec, Uniform):
        return (spec.low + spec.high) / 2
    if isinstance(spec, Normal):
        return max(0.0, spec.mean)
    if isinstance(spec, Exponential):
        return spec.mean
    if isinstance(spec, LogNormal):
        mu, sigma = spec.params()
        return math.exp(mu + sigma * sigma / 2)
    if isinstance(spec, Empirical):
        return sum(spec.samples) / len(spec.samples)
    raise TypeError(f"not a distribution spec: {spec!r}")
