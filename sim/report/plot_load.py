"""``dependency_load.png``: the load on each dependency over run time, with its quotas.

One panel per dependency: calls per second by kind, each operation's quota (the limit a storm
runs into), a throttle fault's quota over its window, the modelled capacity when the load comes
near it, fault windows shaded.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.metrics import Summary
from sim.metrics.dependencies import aims_at
from sim.results import Run

from ._figures import (FAIL, FAULT, PASS, fault_end, figure, legend_right, seconds_axis,
                       shade_faults)
from .clock import clock_note, on_scenario_clock
from .format import format_rate, format_seconds, format_value

__all__ = ["draw_dependency_load", "quotas"]

_LOAD_POINTS = 400
# A quota or capacity line further above the peak than this would squash the load.
_CAPACITY_SHOWN = 3.0


def _rebin(values: np.ndarray, factor: int) -> np.ndarray:
    """Sum ``values`` over groups of ``factor`` intervals (the last group may be short)."""
    if factor == 1:
        return values
    pad = (-len(values)) % factor
    return np.r_[values, np.zeros(pad, dtype=values.dtype)].reshape(-1, factor).sum(axis=1)


def quotas(scenario: dict, dependency: str) -> dict[str, float]:
    """Operation -> quota rate (calls/s) of ``dependency`` in the run's scenario data."""
    operations = (scenario.get("dependencies", {}).get(dependency) or {}).get("operations") or {}
    out = {}
    for op, spec in operations.items():
        rate = ((spec or {}).get("quota") or {}).get("rate")
        if rate is not None:
            out[op] = float(rate)
    return out


def _draw_quotas(ax, run: Run, name: str, t_end: float, peak: float) -> None:
    """The quota of each operation as a labelled line (the limit a storm runs into), and a
    throttle fault's quota over its window. A quota far above the load (Secrets Manager's
    10,000/s under 300/s of boots) would squash the lines: it is in the title only.
    A compressed exec or load run is drawn on the scenario's clock (``on_scenario_clock``),
    where its gate's quota (rate / time_scale per wall second) is the scenario's own rate."""
    for op, rate in quotas(run.scenario, name).items():
        if rate > _CAPACITY_SHOWN * peak:
            continue
        ax.axhline(rate, color="black", ls="--", lw=1.6, zorder=5, label="quota")
        ax.annotate(f"quota {op} {format_rate(rate)}", xy=(0.0, rate),
                    xycoords=("axes fraction", "data"), xytext=(4, 3), textcoords="offset points",
                    fontsize=8, fontweight="bold", zorder=6,
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1})
    for fault in run.faults:
        rate = (fault.params.get("quota") or {}).get("rate") if fault.kind == "throttle" else None
        if rate is not None and aims_at(fault, name):
            ax.hlines(float(rate), fault.start, fault_end(fault, t_end), color="black", ls=":",
                      lw=1.8, zorder=5, label="quota during a throttle fault")


def draw_dependency_load(run: Run, summary: Summary) -> Figure:
    note, run = clock_note(run), on_scenario_clock(run)
    names = list(run.dependencies) or ["(none)"]
    height = 1.1 + 2.5 * len(names)
    fig, axes = figure(12.5, height, len(names), 1, sharex=True, right=3.0, top=0.75,
                       hspace=0.5)
    for ax, name in zip(axes[:, 0], names):
        series = run.dependencies.get(name)
        if series is None:
            ax.text(0.5, 0.5, "no dependency series in this run", transform=ax.transAxes,
                    ha="center")
            ax.set_axis_off()
            continue
        # Long runs: average over a few intervals so the lines stay readable (peaks are in
        # the title, exact per-interval counts in dependencies/<name>.csv).
        factor = max(1, math.ceil(series.n / _LOAD_POINTS))
        width = series.interval * factor
        c = {k: _rebin(v, factor) / width for k, v in series.counts.items()}
        t = np.arange(len(c["offered"])) * width
        errors = c["failed"] + c["timed_out"] + c["rejected"]
        # Offered is drawn wide underneath: where served equals it, both stay visible.
        lines = (("offered", c["offered"], "C0", "-", 2.8),
                 ("needed (first tries)", c["needed"], "grey", "--", 1.2),
                 ("served", c["served"], PASS, "-", 1.2),
                 ("throttled", c["throttled"], "C1", "-", 1.2),
                 ("failed + timed out + rejected", errors, FAIL, "-", 1.2))
        for label, values, color, style, lw in lines:
            ax.plot(t, values, style, color=color, lw=lw, label=label, drawstyle="steps-post")
        t_end = run.meta.horizon or t[-1] + width
        peak = max(float(c["offered"].max(initial=0)), 1.0)
        _draw_quotas(ax, run, name, t_end, peak)
        capacity = series.capacity_rps
        # The modelled capacity (concurrency / mean service time) is often far above any load
        # (IMDS: 80 million/s): shown only where it is a limit the load comes near.
        near = math.isfinite(capacity) and capacity <= _CAPACITY_SHOWN * peak
        if near:
            ax.axhline(capacity, color="grey", ls=":", lw=1, label="capacity (modelled)")
        ours = [f for f in run.faults if aims_at(f, name)]
        shade_faults(ax, ours, t_end)
        others = [f for f in run.faults if not aims_at(f, name)]
        shade_faults(ax, others, t_end, labels=False, alpha=0.05)
        m = summary.dependency(name)
        limits = [f"quota {op} {format_rate(r)}" for op, r in quotas(run.scenario, name).items()]
        if near:
            limits.append(f"capacity {format_rate(capacity)}")
        drain = ("no fault" if not run.faults
                 else f"time to drain {format_value(m['time_to_drain'], 'duration')}")
        ax.set_title(f"{name}: peak offered {format_rate(m['peak_offered_rps'])}"
                     + "".join(f", {x}" for x in limits)
                     + f", amplification {m['retry_amplification']:.2f}x, {drain}",
                     fontsize=10, loc="left")
        unit = "" if factor == 1 else f" (mean over {format_seconds(width)})"
        ax.set_ylabel("calls per second" + unit)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        seconds_axis(ax.xaxis)
    handles, labels = [], []
    for ax in axes[:, 0]:  # every label once, in order: the quota lines differ per panel
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if run.faults and "fault window" not in labels:
        handles.append(Patch(color=FAULT, alpha=0.12))
        labels.append("fault window")
    if handles:
        legend_right(fig, handles, labels, top=1 - 0.75 / height)
        axes[-1, 0].set_xlabel("time since run start" + note)
    fig.suptitle("Load on each dependency (faults on this dependency labelled; others faint)",
                 fontsize=12)
    return fig
