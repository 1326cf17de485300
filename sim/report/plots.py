"""The report's plots, drawn with matplotlib's Agg canvas (no pyplot, no global backend state).

Each ``plot_*`` function draws one PNG into a folder and returns its file name (``draw_*``
returns the Figure, for tests); ``write_plots`` draws them all. Big runs are thinned before
drawing (quantiles, samples, bins), never looped over. Legends sit outside the data (checked by
``_figures.legend_overlaps`` in the tests); numbers are formatted by ``format``, as in the text.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sim.metrics import Summary
from sim.metrics.attempts import ready_by_launch
from sim.results import Run

from ._figures import (FAIL, FAULT, PASS, fault_end, figure, legend_below, legend_right, save,
                       seconds_axis, shade_faults)
from .clock import clock_note, on_scenario_clock
from .format import format_seconds, format_value, verdict_label
from .plot_load import draw_dependency_load, quotas

__all__ = ["write_plots", "plot_time_to_ready", "plot_dependency_load", "plot_retries",
           "plot_phases", "draw_time_to_ready", "draw_dependency_load", "draw_retries",
           "draw_phases", "quotas", "PLOT_FILES"]

_CDF_POINTS = 2000
_SCATTER_POINTS = 4000


def _thin(sorted_values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, rank) at most ``points`` evenly spaced ranks of a sorted array (CDF drawing)."""
    n = sorted_values.size
    ranks = np.unique(np.linspace(0, n - 1, min(n, points)).astype(np.int64))
    return sorted_values[ranks], ranks + 1


def draw_time_to_ready(run: Run, summary: Summary) -> Figure:
    note, run = clock_note(run), on_scenario_clock(run)
    launch, ttr = ready_by_launch(run.attempts)
    fig, axes = figure(12.5, 5.6, 1, 2, bottom=1.55, top=0.4, left=0.75, right=0.2, wspace=0.18)
    ax, by_launch = axes[0]
    launched = max(summary.instances, 1)
    if ttr.size:
        values, ranks = _thin(np.sort(ttr), _CDF_POINTS)
        ax.step(np.r_[0.0, values], np.r_[0.0, ranks / launched] * 100, where="post",
                color="C0", lw=1.8, label="instances ready")
    ax.axhline(summary.metrics["bootstrap_success_rate"] * 100 if ttr.size else 0, color="grey",
               ls=":", lw=1, label="success rate")
    ttr_slos = [v for v in summary.verdicts
                if v.metric.startswith(("time_to_ready.", "time_to_ready_of_ready."))
                and math.isfinite(v.threshold) and v.verdict != "not_applicable"]
    for v in ttr_slos:
        ax.axvline(v.threshold, color=PASS if v.verdict == "pass" else FAIL, ls="--", lw=1.3,
                   label=f"SLO {v.slo} ({verdict_label(v)}, "
                         f"measured {format_value(v.measured, v.kind)})")
    if run.faults:
        horizon = run.meta.horizon
        text = "\n".join(f"{f.kind} {f.target}: {format_seconds(f.start)}-"
                         f"{format_seconds(fault_end(f, horizon))}" for f in run.faults[:6])
        ax.text(0.98, 0.04, "faults (run time)\n" + text, transform=ax.transAxes, ha="right",
                va="bottom", fontsize=7.5, color=FAULT,
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": FAULT, "lw": 0.6})
    ax.set(title="Time to ready (from first launch)", xlabel="time to ready" + note,
           ylabel="instances launched ready (%)", ylim=(0, 102))
    seconds_axis(ax.xaxis)
    thresholds = [v.threshold for v in ttr_slos]
    ax.set_xlim(0, 1.05 * max([float(ttr.max()) if ttr.size else 0.0, 1.0] + thresholds))
    ax.grid(alpha=0.3)
    legend_below(ax, ncols=1)
    if not ttr.size:
        for panel in (ax, by_launch):
            panel.text(0.5, 0.8, "no instance became ready", transform=panel.transAxes,
                       ha="center", fontsize=11)

    _plot_ttr_by_launch(by_launch, launch, ttr, run, note)
    return fig


def _plot_ttr_by_launch(ax, launch: np.ndarray, ttr: np.ndarray, run: Run, note: str) -> None:
    # Launches (and fault starts) decide the x range: a 2-minute ramp in a 30-minute run
    # should fill the panel, not sit in its first tenth.
    horizon = run.meta.horizon or 1.0
    last = max([float(launch.max()) if launch.size else 0.0]
               + [f.start for f in run.faults if f.start < horizon])
    horizon = min(horizon, max(1.0, last * 1.05 + 1.0))
    if launch.size:
        rng = np.random.default_rng(0)  # a fixed sample: same run, same picture
        pick = rng.choice(launch.size, min(launch.size, _SCATTER_POINTS), replace=False)
        ax.scatter(launch[pick], ttr[pick], s=5, alpha=0.35, color="C0", lw=0,
                   label="an instance" + (" (sample)" if launch.size > _SCATTER_POINTS else ""))
        bins = np.linspace(0, horizon + 1e-9, 41)
        slot = np.clip(np.digitize(launch, bins) - 1, 0, len(bins) - 2)
        order = np.argsort(slot, kind="stable")
        groups = np.split(ttr[order], np.flatnonzero(np.diff(slot[order])) + 1)
        present = np.unique(slot[order])
        centres = (bins[present] + bins[present + 1]) / 2
        for q, style in ((50, "-"), (95, "--")):
            ax.plot(centres, [np.percentile(g, q) for g in groups], style, color="C1", lw=1.6,
                    label=f"p{q} per launch bin")
    shade_faults(ax, run.faults, horizon)
    ax.set(title="Time to ready by launch time (instances that became ready)",
           xlabel="first launch (since run start)" + note, ylabel="time to ready")
    ax.set_xlim(0, horizon)
    ax.set_ylim(bottom=0)
    seconds_axis(ax.xaxis)
    seconds_axis(ax.yaxis)
    ax.grid(alpha=0.3)
    legend_below(ax, ncols=2)


def draw_retries(run: Run, summary: Summary) -> Figure:
    retries = run.attempts.column("retries")
    fig, axes = figure(8, 4.2, left=0.9, right=1.9)
    ax = axes[0, 0]
    if retries.size:
        top = int(retries.max())
        # One bar per retry count while that stays readable, 50 bins beyond.
        edges = np.arange(top + 2) - 0.5 if top <= 60 else np.linspace(0, top + 1, 51)
        counts, edges = np.histogram(retries, bins=edges)
        ax.bar((edges[:-1] + edges[1:]) / 2, counts, width=np.diff(edges) * 0.85, color="C0",
               label="boot attempts")
        nonzero = counts[counts > 0]
        if nonzero.max() > 100 * nonzero.min():  # long tail: show it rather than flatten it
            ax.set_yscale("log")
            ax.set_ylabel("boot attempts (log scale)")
        for key, style in (("mean", "--"), ("p99", ":")):
            value = summary.metrics[f"bootstrap_retries.{key}"]
            ax.axvline(value, color=FAIL, ls=style, lw=1.2,
                       label=f"{key} {format_value(value, 'count')}")
        legend_right(fig, *ax.get_legend_handles_labels(), top=1 - 0.45 / 4.2)
    else:
        ax.text(0.5, 0.5, "no boot attempts", transform=ax.transAxes, ha="center")
    ax.set_title("Retries per boot attempt")
    ax.set_xlabel("retries in one boot attempt (all steps)")
    if not ax.get_ylabel():
        ax.set_ylabel("boot attempts")
    ax.grid(alpha=0.3, axis="y")
    return fig


def draw_phases(run: Run, summary: Summary) -> Figure:
    phases = [p for p in summary.phases if p.count]
    height = 1.6 + 0.6 * max(len(phases), 1)
    fig, axes = figure(9, height, left=2.6, right=1.1, bottom=0.6)
    ax = axes[0, 0]
    if phases:
        y = np.arange(len(phases))[::-1]
        for offset, key, color in ((0.2, "p50", "C0"), (-0.2, "p95", "C1")):
            values = [getattr(p, key) for p in phases]
            bars = ax.barh(y + offset, values, height=0.38, color=color,
                           label="median" if key == "p50" else "p95")
            ax.bar_label(bars, [format_seconds(v) for v in values], padding=3, fontsize=8)
        ax.set_yticks(y, [f"{p.name}\n({p.count:,} attempts)" for p in phases], fontsize=8.5)
        ax.margins(x=0.15)
        legend_right(fig, *ax.get_legend_handles_labels(), top=1 - 0.45 / height)
    else:
        ax.text(0.5, 0.5, "no phases: no attempt reached a mark", transform=ax.transAxes,
                ha="center")
    ax.set(title="Where boot time goes (time between consecutive marks)", xlabel="time")
    seconds_axis(ax.xaxis)
    ax.grid(alpha=0.3, axis="x")
    return fig


def _plotter(draw, name: str, doc: str):
    """``plot(run, summary, folder) -> name``: ``draw`` saved as ``name`` in ``folder``."""
    def plot(run: Run, summary: Summary, folder: Path) -> str:
        return save(draw(run, summary), Path(folder), name)

    plot.__name__ = plot.__qualname__ = "plot_" + draw.__name__[len("draw_"):]
    plot.__doc__ = doc
    plot.file = name
    return plot


# Each report plot: its file and what draws it, in the order report.md shows them.
plot_time_to_ready = _plotter(draw_time_to_ready, "time_to_ready_cdf.png", "CDF of time to "
                              "ready (with SLO thresholds), and time to ready by launch time.")
plot_dependency_load = _plotter(draw_dependency_load, "dependency_load.png", "One panel per "
                                "dependency: calls per second by kind, quotas, fault windows.")
plot_retries = _plotter(draw_retries, "retries_per_boot.png", "How many retries boot attempts "
                        "needed: a histogram over attempts.")
plot_phases = _plotter(draw_phases, "phase_breakdown.png", "Median and p95 time in each boot "
                       "phase, as horizontal bars.")
_PLOTS = (plot_time_to_ready, plot_dependency_load, plot_retries, plot_phases)
PLOT_FILES = tuple(plot.file for plot in _PLOTS)


def write_plots(run: Run, summary: Summary, folder: Path) -> list[str]:
    """Draw every plot into ``folder``; returns the file names written."""
    return [plot(run, summary, Path(folder)) for plot in _PLOTS]
