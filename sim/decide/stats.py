"""Statistics for decisions over many runs: intervals, two-sample tests, metric direction.

Everything here is a pure function of arrays and a seeded ``numpy.random.Generator`` (no
module state), so the same runs give the same intervals.

- A mean over seeds gets a Student t-interval (the seeds are independent replications).
- A percentile metric (``time_to_ready.p95``: already a percentile inside each run) is skewed
  across seeds, so its interval is a percentile bootstrap of the mean (``scipy.stats.bootstrap``).
- A difference between two sets of runs is a bootstrap interval of mean(B) - mean(A); paired
  when both sides ran the same seeds (common random numbers), which removes the seed's noise.
- Mann-Whitney U and Kolmogorov-Smirnov (``scipy.stats``) compare whole time-to-ready samples.

"Never" (+inf: a fleet percentile some instances never reached, a drain that never ended) is a
value, not a number to average. A mean over values of which some are +inf is +inf and has no
finite interval: the Interval says so (``method == "never"``, low/high NaN, or +inf when every
value is) and ``never`` holds the share of the values that were +inf. A difference where
either side has a +inf is taken on that share instead (``delta_of == "never share"``: B's
share of never minus A's, with its bootstrap interval), except for a percentile over one run's
instances, where "never" is kept as a value above every other (``order_statistic``): the
interval's ends may then be +-inf. No arithmetic ever meets inf - inf.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Interval",
    "CONFIDENCE",
    "mean_interval",
    "bootstrap_interval",
    "metric_interval",
    "delta_interval",
    "distribution_tests",
    "direction",
    "is_percentile_metric",
    "verdict",
]

CONFIDENCE = 0.95
_RESAMPLES = 2000
_PERCENTILE = re.compile(r"\.(p[0-9.]+|max)$")


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval; low/high are NaN when it cannot be had (n < 2)."""

    estimate: float
    low: float
    high: float
    n: int
    method: str  # "t", "bootstrap", "none", "never" (a mean over values some of which are +inf)
    never: float = 0.0  # share of the values that were +inf ("never"); for a delta: B's - A's
    delta_of: str = "value"  # a delta: "value" (B - A), or "never share" (B's share - A's)

    def excludes_zero(self) -> bool:
        return (self.low > 0 or self.high < 0) if self.low == self.low else False


def _clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[~np.isnan(values)]


def _never_interval(v: np.ndarray) -> Interval | None:
    """The mean of ``v`` when some values are infinite: +inf (-inf), no finite interval; None
    when every value is finite."""
    infinite = np.isinf(v)
    if not infinite.any():
        return None
    signs = set(np.sign(v[infinite]).tolist())
    estimate = math.nan if len(signs) > 1 else math.inf * signs.pop()
    bound = estimate if infinite.all() and v.size > 1 else math.nan
    return Interval(estimate, bound, bound, int(v.size), "never",
                    float(np.isposinf(v).mean()))


def mean_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """Mean and Student t-interval of independent replications (NaNs dropped; see the module
    docstring for values that are +inf)."""
    from scipy import stats

    v = _clean(values)
    if v.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    never = _never_interval(v)
    if never is not None:
        return never
    mean = float(v.mean())
    if v.size < 2:
        return Interval(mean, math.nan, math.nan, 1, "none")
    sem = float(stats.sem(v))
    if sem == 0:
        return Interval(mean, mean, mean, int(v.size), "t")
    low, high = stats.t.interval(confidence, v.size - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), int(v.size), "t")


def bootstrap_interval(values, rng: np.random.Generator, statistic=np.mean,
                       confidence: float = CONFIDENCE, resamples: int = _RESAMPLES) -> Interval:
    """``statistic`` of ``values`` with a percentile bootstrap interval (NaNs dropped)."""
    from scipy import stats

    v = _clean(values)
    if v.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    never = _never_interval(v) if statistic is np.mean else None
    if never is not None:
        return never
    estimate = float(statistic(v))
    if v.size < 2:
        return Interval(estimate, math.nan, math.nan, 1, "none")
    if np.all(v == v[0]):  # nothing to resample: the interval is the point
        return Interval(estimate, estimate, estimate, int(v.size), "bootstrap")
    res = stats.bootstrap((v,), lambda x, axis: statistic(x, axis=axis), vectorized=True,
                          n_resamples=resamples, confidence_level=confidence,
                          method="percentile", rng=rng, batch=_batch(v.size))
    ci = res.confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), int(v.size), "bootstrap")


def is_percentile_metric(metric: str) -> bool:
    """``time_to_ready.p95``, ``dependencies.x.latency.p99``, ``*.max``: not a plain mean."""
    return bool(_PERCENTILE.search(metric))


def metric_interval(metric: str, values, rng: np.random.Generator) -> Interval:
    """The mean over seeds of one metric with its interval: bootstrap for percentiles, else t."""
    if is_percentile_metric(metric):
        return bootstrap_interval(values, rng)
    return mean_interval(values)


def delta_interval(a, b, rng: np.random.Generator, *, paired: bool, statistic=np.mean,
                   confidence: float = CONFIDENCE, resamples: int = _RESAMPLES,
                   order_statistic: bool = False) -> Interval:
    """statistic(b) - statistic(a) with a bootstrap interval. ``paired``: a[i] and b[i] share a
    seed, so pairs are resampled together (pairs with a NaN on either side are dropped).

    With +inf values on either side: ``order_statistic`` (``statistic`` is a percentile) keeps
    "never" as a value above all others, so an end of the interval may be +-inf; otherwise the
    delta is of the share of values that were +inf (``delta_of == "never share"``).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if paired:
        keep = ~(np.isnan(a) | np.isnan(b))
        a, b = a[keep], b[keep]
    else:
        a, b = _clean(a), _clean(b)
    if a.size == 0 or b.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    if np.isinf(a).any() or np.isinf(b).any():
        if order_statistic:
            return _order_delta(a, b, rng, statistic, paired, confidence, resamples)
        iv = _delta(np.isposinf(a).astype(float), np.isposinf(b).astype(float), rng, paired,
                    np.mean, confidence, resamples)
        return Interval(iv.estimate, iv.low, iv.high, iv.n, iv.method, iv.estimate,
                        "never share")
    return _delta(a, b, rng, paired, statistic, confidence, resamples)


# "Never" stands in as this finite value while ordering and resampling (as in
# sim.metrics._stats), so no arithmetic meets inf - inf; anything beyond _NEVER_FROM is never.
# Small enough that scipy's standard error of the bootstrap distribution (a sum of squares)
# does not overflow, and far above any real duration.
_NEVER = 1e150
_NEVER_FROM = 1e140


def _order_delta(a, b, rng, statistic, paired, confidence, resamples) -> Interval:
    def stat(x, axis=-1):
        value = statistic(x, axis=axis)
        return np.where(value >= _NEVER_FROM, _NEVER, value)  # interpolated towards never

    def back(x: float) -> float:
        return math.copysign(math.inf, x) if abs(x) >= _NEVER_FROM else x

    iv = _delta(np.where(np.isposinf(a), _NEVER, a), np.where(np.isposinf(b), _NEVER, b), rng,
                paired, stat, confidence, resamples)
    return Interval(back(iv.estimate), back(iv.low), back(iv.high), iv.n, iv.method)


def _delta(a, b, rng, paired, statistic, confidence, resamples) -> Interval:
    from scipy import stats

    estimate = float(statistic(b) - statistic(a))
    n = int(min(a.size, b.size))
    if n < 2:
        return Interval(estimate, math.nan, math.nan, n, "none")
    if np.all(a == a[0]) and np.all(b == b[0]):
        return Interval(estimate, estimate, estimate, n, "bootstrap")
    res = stats.bootstrap(
        (a, b), lambda x, y, axis: statistic(y, axis=axis) - statistic(x, axis=axis),
        vectorized=True, paired=paired, n_resamples=resamples, confidence_level=confidence,
        method="percentile", rng=rng, batch=_batch(max(a.size, b.size)),
    )
    ci = res.confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), n, "bootstrap")


def _batch(n: int) -> int:
    # Resamples held in memory at once: keep each batch around 8 M floats.
    return max(1, min(_RESAMPLES, 8_000_000 // max(1, n)))


def distribution_tests(a, b) -> dict[str, float]:
    """Mann-Whitney U (two-sided) and two-sample Kolmogorov-Smirnov on two samples."""
    from scipy import stats

    a, b = _clean(a), _clean(b)
    if a.size == 0 or b.size == 0:
        return {"mannwhitney_u": math.nan, "mannwhitney_p": math.nan,
                "ks_statistic": math.nan, "ks_p": math.nan, "n_a": int(a.size), "n_b": int(b.size)}
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    ks = stats.ks_2samp(a, b)
    return {"mannwhitney_u": float(mw.statistic), "mannwhitney_p": float(mw.pvalue),
            "ks_statistic": float(ks.statistic), "ks_p": float(ks.pvalue),
            "n_a": int(a.size), "n_b": int(b.size)}


# Metrics where more is better; everything else not listed as neutral is better lower
# (latencies, error rates, retries, throttled shares, time to drain, metastability).
_HIGHER_IS_BETTER = ("bootstrap_success_rate", ".goodput", ".peak_served_rps")
_NEUTRAL = (".egress_bytes",)


def direction(metric: str) -> int:
    """+1 when a higher value is better, -1 when lower is better, 0 when neither."""
    if metric == "bootstrap_success_rate" or any(metric.endswith(s) for s in _HIGHER_IS_BETTER[1:]):
        return 1
    if any(metric.endswith(s) for s in _NEUTRAL):
        return 0
    return -1


def verdict(metric: str, delta: Interval) -> str:
    """better / worse / no significant difference (/ changed for neutral, not measured)."""
    if delta.estimate != delta.estimate:
        return "not measured"
    if not delta.excludes_zero():
        return "no significant difference"
    sign = direction(metric)
    if sign == 0:
        return "changed"
    return "better" if (delta.estimate > 0) == (sign > 0) else "worse"
