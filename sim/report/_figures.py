"""Figure plumbing for the report's plots: fixed margins, legends outside the data, checks.

Matplotlib's constrained layout measured about 40 % of the time of drawing the dependency
load plot (pyinstrument, storm run): it measures every tick label twice. The report's figures
have a known shape, so margins are set once, in inches, and legends go into a margin that is
reserved for them, never on top of the data. ``legend_overlaps`` is the check tests use.
Also the colours and fault shading every plot shares.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, Locator

from sim.results import FaultWindow

from .format import format_rate, format_seconds

__all__ = ["figure", "save", "legend_right", "legend_below", "legend_overlaps", "DPI",
           "seconds_axis", "rate_axis", "DurationLocator", "fault_end", "shade_faults", "PASS",
           "FAIL", "FAULT"]

DPI = 110
PASS, FAIL, FAULT = "#2a9d4b", "#d62728", "#9467bd"


def figure(width: float, height: float, rows: int = 1, cols: int = 1, *, left: float = 0.9,
           right: float = 0.3, top: float = 0.45, bottom: float = 0.55, wspace: float = 0.25,
           hspace: float = 0.45, **kw):
    """A Figure on an Agg canvas (no pyplot state) with margins in inches, and its axes."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **kw)
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, wspace=wspace, hspace=hspace)
    return fig, axes


def save(fig: Figure, folder: Path, name: str) -> str:
    fig.savefig(Path(folder) / name, dpi=DPI)
    return name


def legend_right(fig: Figure, handles, labels, *, top: float = 1.0):
    """One legend for the figure, in the right margin (reserve it with ``figure(right=...)``)."""
    right = fig.subplotpars.right
    return fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(right + 0.005, top),
                      fontsize=8, frameon=False, borderaxespad=0.2)


def legend_below(ax, *, ncols: int = 2):
    """The axes' legend under its x label (reserve room with ``figure(bottom=...)``)."""
    if not ax.get_legend_handles_labels()[0]:
        return None
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, fontsize=8,
                     frameon=False, borderaxespad=0.0)


def legend_overlaps(fig: Figure) -> list[str]:
    """Legends whose box overlaps the data area of any axes, or that leave the figure."""
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    frame = fig.bbox
    problems = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible() and ax.axison and box.overlaps(ax.bbox):
                problems.append(f"legend over the axes {ax.get_title(loc='left') or ax.get_title()!r}")
        if box.x0 < frame.x0 - 1 or box.x1 > frame.x1 + 1 or box.y0 < frame.y0 - 1 \
                or box.y1 > frame.y1 + 1:
            problems.append("legend outside the figure")
    return problems


# Tick steps a reader counts in: seconds, then whole minutes, then hours.
_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
          300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


class DurationLocator(Locator):
    """At most ``ticks`` ticks on a round duration step (10s, 30s, 1m, 5m, ...)."""

    def __init__(self, ticks: int = 8):
        self.ticks = ticks

    def __call__(self):
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((float(vmin), float(vmax)))
        span = max(hi - lo, 1e-9)
        step = next((s for s in _STEPS if span / s <= self.ticks), _STEPS[-1])
        first = math.ceil(lo / step) * step
        return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _tick_seconds(value: float, _pos=None) -> str:
    # The report's duration format; round ticks drop the ".0" ("30s", not "30.0s").
    return format_seconds(value).replace(".0s", "s") if value >= 0 else ""


def seconds_axis(axis) -> None:
    """Ticks on round durations, labelled as durations (``30s``, ``2m00s``) as in the text."""
    axis.set_major_locator(DurationLocator())
    axis.set_major_formatter(FuncFormatter(_tick_seconds))


def rate_axis(axis) -> None:
    """Tick labels as rates (``40/s``, ``1,200/s``)."""
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: format_rate(v) if v >= 0 else ""))


def fault_end(fault: FaultWindow, horizon: float) -> float:
    end = fault.end
    return horizon if end is None or end != end or math.isinf(end) else end


def shade_faults(ax, faults: list[FaultWindow], horizon: float, labels: bool = True,
                  alpha: float = 0.12) -> None:
    """Faults as shaded bands, labelled at the top of the axes."""
    for k, fault in enumerate(faults):
        end = fault_end(fault, horizon)
        ax.axvspan(fault.start, end, color=FAULT, alpha=alpha, lw=0,
                   label="fault window" if k == 0 and labels else None)
        if labels:
            ax.annotate(f"{fault.kind} {fault.target}", xy=(fault.start, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(2, -2 - 10 * (k % 3)),
                        textcoords="offset points", va="top", fontsize=7.5, color=FAULT)
