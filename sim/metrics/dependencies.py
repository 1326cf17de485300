"""Dependency-side metrics from one DependencySeries (definitions: ``sim.metrics``)."""

from __future__ import annotations

import math

import numpy as np

from sim.results import DependencySeries, FaultWindow, percentile_from_histogram

from ._stats import ratio

__all__ = [
    "dependency_metrics",
    "last_fault_end",
    "window_end",
    "happened",
    "INSTANT_FAULTS",
    "time_to_drain",
    "is_metastable",
    "metastable",
    "metastability_tail",
    "DRAIN_AMPLIFICATION",
    "METASTABLE_GRACE",
    "METASTABLE_ERROR_SHARE",
    "METASTABLE_AMPLIFICATION",
]

# Faults that act at one instant (what was issued before ``at`` expires): an engine may record
# their window up to the end of the run, but they end where they start.
INSTANT_FAULTS = frozenset({"expire_credentials"})
# Drained: no error signal and offered load at most this multiple of the load needed.
DRAIN_AMPLIFICATION = 1.1
# Metastability is judged from the end of the last fault plus this grace period ...
METASTABLE_GRACE = 30.0
# ... when errors stay at or above this share of the offered load ...
METASTABLE_ERROR_SHARE = 0.10
# ... and calls made stay at or above this multiple of the calls needed.
METASTABLE_AMPLIFICATION = 1.5


def _errors(series: DependencySeries) -> np.ndarray:
    c = series.counts
    return c["throttled"] + c["failed"] + c["timed_out"] + c["rejected"]


def aims_at(fault: FaultWindow, dependency: str) -> bool:
    """Whether a fault targets ``dependency`` or one of its operations."""
    return fault.target == dependency or fault.target.startswith(dependency + ".")


def window_end(fault: FaultWindow) -> float:
    """When ``fault`` stopped acting: its start for an instant fault, inf if it never ended."""
    if fault.kind in INSTANT_FAULTS:
        return float(fault.start)
    # A fault that never ended reads back from JSON as None (or NaN): it lasts forever.
    return math.inf if fault.end is None or fault.end != fault.end else float(fault.end)


def happened(fault: FaultWindow, run_end: float) -> bool:
    """Whether ``fault`` started inside a run that covered ``[0, run_end)``."""
    return not run_end == run_end or fault.start < run_end


def last_fault_end(faults: list[FaultWindow], target: str | None = None,
                   run_end: float = math.inf) -> float:
    """End of the last fault (inf if one never ended); NaN with no faults.

    With ``target``: the last fault aimed at that dependency when there is one, else the last
    fault of the run (a fault elsewhere, on the network or another service, can drive it too).
    Faults that started at or after ``run_end`` never happened in the run and are left out.
    """
    faults = [f for f in faults if happened(f, run_end)]
    aimed = [f for f in faults if target is not None and aims_at(f, target)]
    faults = aimed or faults
    if not faults:
        return math.nan
    return max(window_end(f) for f in faults)


def time_to_drain(series: DependencySeries, fault_end: float) -> float:
    """Seconds from ``fault_end`` until the dependency is clean for the rest of the run.

    Clean interval: throttled + failed + timed_out + rejected == 0 and offered <= 1.1 x needed.
    Drained means the offered load is back to the first-try load (``needed``): what a fault
    adds (retries, backlog) is gone. Steady first-try traffic after it (heartbeats, polling)
    is in ``needed`` too, so it never keeps a dependency "not drained".
    The drain time is the start of the first interval from which every interval is clean, minus
    ``fault_end`` (0 when clean right away).

    +inf ("never", within the run) when the run's last interval is still not clean although the
    run watched the dependency for at least one whole interval after the fault ended: a
    measurement (the drain took longer than the run left it), so ``time_to_drain <= X`` fails as
    a fail, not as unmeasured. NaN (not measured) when there was no fault, when the fault never
    ended or outlasted the series, or when it ended inside the series' last interval (nothing
    was watched after it: the run, not the dependency, ran out).
    """
    if not math.isfinite(fault_end):
        return math.nan
    first = int(fault_end // series.interval)
    if first >= series.n:
        return math.nan
    offered = series.counts["offered"][first:]
    needed = series.counts["needed"][first:]
    dirty = (_errors(series)[first:] > 0) | (offered > DRAIN_AMPLIFICATION * needed)
    if not dirty.any():
        return 0.0
    last_dirty = int(np.flatnonzero(dirty)[-1])
    if first + last_dirty == series.n - 1:
        watched = series.n - int(math.ceil(fault_end / series.interval))  # whole intervals after
        return math.inf if watched >= 1 else math.nan
    return max(0.0, (first + last_dirty + 1) * series.interval - fault_end)


def _overloaded(series: DependencySeries, lo: int, hi: int) -> bool:
    offered = int(series.counts["offered"][lo:hi].sum())
    needed = int(series.counts["needed"][lo:hi].sum())
    errors = int(_errors(series)[lo:hi].sum())
    if offered == 0:
        return False
    amplification = offered / needed if needed else math.inf
    return errors / offered >= METASTABLE_ERROR_SHARE and amplification >= METASTABLE_AMPLIFICATION


def is_metastable(
    series: DependencySeries, fault_end: float, grace: float = METASTABLE_GRACE
) -> bool:
    """Whether the dependency stayed overloaded after its trigger went away.

    The tail is every interval starting at or after ``fault_end + grace``; it must hold at least
    two intervals (otherwise nothing can be said: False). Metastable when both the whole tail and
    its final third (at least one interval) are overloaded: errors (throttled + failed + timed out
    + rejected) >= 10 % of offered, and offered >= 1.5 x needed (any offered load with nothing
    needed counts). When the dependency's capacity is known, the demand alone (needed per second
    over the tail) must also fit under it: a dependency that is simply too small for the fleet is
    overloaded, not metastable.
    """
    tail = metastability_tail(series, fault_end, grace)
    if tail < 2:
        return False
    lo = series.n - tail
    final = series.n - max(1, tail // 3)
    if not (_overloaded(series, lo, series.n) and _overloaded(series, final, series.n)):
        return False
    capacity = series.capacity_rps
    if capacity == capacity and capacity > 0:
        demand_rps = series.counts["needed"][lo:].sum() / (tail * series.interval)
        return bool(demand_rps < capacity)
    return True


def metastable(series: DependencySeries, fault_end: float,
               grace: float = METASTABLE_GRACE, settled: bool = False) -> float:
    """The ``metastable`` metric: 1.0 or 0.0, NaN when the run cannot tell.

    0.0 with no fault at all (nothing triggered an overload to outlast). NaN (not measured) when
    the last fault outlasted the run, or when the run ended too soon after it: fewer than two
    intervals after ``fault_end + grace``, unless the run ``settled`` (it stopped before its
    horizon because every boot was done and no call was left: an idle dependency is not
    overloaded) after a fault that ended inside it.
    """
    if fault_end != fault_end:
        return 0.0
    if metastability_tail(series, fault_end, grace) < 2:
        ended_inside = fault_end <= series.n * series.interval
        return 0.0 if settled and ended_inside else math.nan
    return 1.0 if is_metastable(series, fault_end, grace) else 0.0


def metastability_tail(series: DependencySeries, fault_end: float,
                       grace: float = METASTABLE_GRACE) -> int:
    """Intervals starting at or after ``fault_end + grace`` (0 when the fault never ended)."""
    if not math.isfinite(fault_end):
        return 0
    return max(0, series.n - int(math.ceil((fault_end + grace) / series.interval)))


def dependency_metrics(series: DependencySeries, faults: list[FaultWindow],
                       grace: float = METASTABLE_GRACE, run_end: float = math.inf,
                       settled: bool = False) -> dict[str, float]:
    """Every metric of ``DEPENDENCY_METRICS`` for one dependency, keyed by the short name.

    ``settled``: the run stopped before its horizon with nothing left to do (see
    ``metastable``)."""
    c = series.counts
    offered = int(c["offered"].sum())
    last_end = last_fault_end(faults, series.name, run_end)
    hist = series.latency_hist.sum(axis=0) if series.latency_hist is not None else np.zeros(1)
    return {
        "peak_offered_rps": float(c["offered"].max(initial=0)) / series.interval,
        "peak_served_rps": float(c["served"].max(initial=0)) / series.interval,
        "throttled_share": ratio(c["throttled"].sum(), offered),
        "failed_share": ratio(c["failed"].sum(), offered),
        "timed_out_share": ratio(c["timed_out"].sum(), offered),
        "retry_amplification": ratio(offered, c["needed"].sum()),
        "goodput": ratio(c["served"].sum(), offered),
        "time_to_drain": time_to_drain(series, last_end),
        "metastable": metastable(series, last_end, grace, settled),
        "egress_bytes": float(c["bytes"].sum()),
        "latency.p50": percentile_from_histogram(hist, 50),
        "latency.p99": percentile_from_histogram(hist, 99),
    }
