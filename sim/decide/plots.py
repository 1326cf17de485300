"""Pictures of many runs: a sweep's line plot (1 parameter) or heatmap (2 parameters), and a
plan's SLO frontier. matplotlib with the Agg backend; each function returns the files written.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from sim.decide.table import ALL_SLOS

__all__ = ["sweep_plots", "frontier_plot"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slo_objects(texts):
    from sim.metrics import parse_slos

    return parse_slos(texts)


def _file(folder: Path, stem: str) -> Path:
    return folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) + ".png")


def _save(plt, fig, folder: Path, stem: str) -> Path:
    """Lay out, write ``<stem>.png`` into ``folder`` and free the figure."""
    fig.tight_layout()
    path = _file(folder, stem)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def sweep_plots(plan, points: list[dict], folder: Path) -> list[Path]:
    """One line plot per parameter of a 1-parameter grid; a heatmap of a 2-parameter grid;
    a scatter of P(all SLOs) against each parameter otherwise (Latin hypercube, 3+ grids)."""
    params = plan.params
    grid = plan.samples is None
    if grid and len(params) == 1:
        return [_line_plot(plan, points, params[0], folder)]
    if grid and len(params) == 2:
        return [_heatmap(plan, points, params, folder)]
    return [_scatter(plan, points, p, folder) for p in params]


def _line_plot(plan, points, param, folder) -> Path:
    plt = _plt()
    slos = _slo_objects(plan.slos)
    metrics = list(dict.fromkeys(s.metric for s in slos))
    xs = [row[param] for row in points]
    numeric = _numeric(xs)
    x = np.asarray(xs, dtype=float) if numeric else np.arange(len(xs))
    order = np.argsort(x)
    fig, axes = plt.subplots(len(metrics) + 1, 1, figsize=(7, 2.6 * (len(metrics) + 1)),
                             sharex=True, squeeze=False)
    ax = axes[0][0]
    ax.plot(x[order], [points[i][ALL_SLOS] for i in order], "o-", color="tab:blue")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("P(all SLOs pass)")
    ax.set_title(f"{plan.scenario_name}: sweep of {param} ({len(plan.seeds)} seeds per point)")
    for ax, metric in zip((a[0] for a in axes[1:]), metrics):
        mean = np.array([_get(points[i], metric) for i in order])
        low = np.array([_get(points[i], f"{metric}.ci_low") for i in order])
        high = np.array([_get(points[i], f"{metric}.ci_high") for i in order])
        _mark_never(ax, x[order], mean)
        ax.plot(x[order], _finite(mean), "o-", color="tab:orange", label="mean over seeds")
        ax.fill_between(x[order], _finite(low), _finite(high), color="tab:orange", alpha=0.25,
                        label="95% CI")
        for s in slos:
            if s.metric == metric:
                ax.axhline(s.threshold, color="tab:red", ls="--", lw=1, label=f"SLO {s.op} {s.value}")
        ax.set_ylabel(metric, fontsize=8)
        ax.legend(fontsize=7, loc="best")
    axes[-1][0].set_xlabel(param)
    if not numeric:
        axes[-1][0].set_xticks(range(len(xs)), [_label(v) for v in xs])
    return _save(plt, fig, folder, f"sweep-{param}")


def _finite(values: np.ndarray) -> np.ndarray:
    """Values to draw: +inf ("never") is not a point on a numeric axis."""
    return np.where(np.isfinite(values), values, np.nan)


def _mark_never(ax, x: np.ndarray, mean: np.ndarray) -> None:
    """Points whose mean is +inf (some seeds never reached the metric): a marker at the top
    edge of the axes instead of a number."""
    never = np.isposinf(mean)
    if never.any():
        ax.plot(x[never], np.ones(int(never.sum())), "^", color="tab:red", clip_on=False,
                transform=ax.get_xaxis_transform(), label="never (in some seeds)")


def _label(value) -> str:
    """A value as a tick label (a mapping such as a retry policy becomes its JSON)."""
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True)
    return str(value)


def _get(row, key) -> float:
    v = row.get(key)
    return math.nan if v is None else float(v)


def _heatmap(plan, points, params, folder) -> Path:
    plt = _plt()
    px, py = params
    xs = list(dict.fromkeys(_label(row[px]) for row in points))
    ys = list(dict.fromkeys(_label(row[py]) for row in points))
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in points:
        grid[ys.index(_label(row[py])), xs.index(_label(row[px]))] = _get(row, ALL_SLOS)
    fig, ax = plt.subplots(figsize=(1.2 * len(xs) + 3, 0.6 * len(ys) + 2.5))
    im = ax.imshow(grid, origin="lower", cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(ys)), [str(v) for v in ys], fontsize=8)
    ax.set_xlabel(px)
    ax.set_ylabel(py)
    for (j, i), v in np.ndenumerate(grid):
        if v == v:
            ax.text(i, j, f"{v:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="P(all SLOs pass)")
    ax.set_title(f"{plan.scenario_name}\nP(all SLOs pass), {len(plan.seeds)} seeds per point",
                 fontsize=9)
    return _save(plt, fig, folder, f"sweep-{px}-x-{py}")


def _scatter(plan, points, param, folder) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    xs = [row[param] for row in points]
    x = np.asarray(xs, dtype=float) if _numeric(xs) else np.arange(len(xs))
    ax.scatter(x, [_get(r, ALL_SLOS) for r in points], c=[_get(r, ALL_SLOS) for r in points],
               cmap="RdYlGn", vmin=0, vmax=1, edgecolors="k")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(param)
    ax.set_ylabel("P(all SLOs pass)")
    ax.set_title(f"{plan.scenario_name}: {len(points)} points, {len(plan.seeds)} seeds each",
                 fontsize=9)
    return _save(plt, fig, folder, f"sweep-{param}")


def frontier_plot(result, folder: Path) -> Path | None:
    """The searched parameter against the binding SLO's metric (mean, 95% CI) with the SLO's
    threshold; green points met every SLO with the required probability, red did not."""
    slo_text = result.binding_slo
    if slo_text is None or not result.evaluations:
        return None
    plt = _plt()
    slo = _slo_objects([slo_text])[0]
    evals = sorted(result.evaluations, key=lambda e: e.value)
    x = np.array([e.value for e in evals], dtype=float)
    ivs = [e.stats.metrics.get(slo.metric) for e in evals]
    mean = np.array([iv.estimate if iv else np.nan for iv in ivs])
    low = np.array([iv.low if iv else np.nan for iv in ivs])
    high = np.array([iv.high if iv else np.nan for iv in ivs])
    fig, ax = plt.subplots(figsize=(7, 4))
    _mark_never(ax, x, mean)
    mean, low, high = _finite(mean), _finite(low), _finite(high)
    yerr = np.vstack([np.where(np.isnan(low), 0, mean - low), np.where(np.isnan(high), 0, high - mean)])
    ax.plot(x, mean, "-", color="0.6", lw=1)
    ok = np.array([e.passed for e in evals])
    for mask, colour, label in ((ok, "tab:green", "meets every SLO"),
                                (~ok, "tab:red", "misses")):
        if mask.any():
            ax.errorbar(x[mask], mean[mask], yerr=yerr[:, mask], fmt="o", color=colour,
                        capsize=3, label=label)
    ax.axhline(slo.threshold, color="tab:red", ls="--", lw=1, label=f"SLO: {slo_text}")
    if result.answer is not None:
        ax.axvline(result.answer, color="tab:blue", ls=":", lw=1, label=f"answer {result.answer:g}")
    ax.set_xlabel(result.param)
    ax.set_ylabel(slo.metric)
    ax.set_title(f"{result.scenario_name}: {result.goal} {result.param} "
                 f"(P >= {result.probability:g}, {len(result.seeds)} seeds)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(plt, fig, folder, f"frontier-{result.param}")
