"""The calibration report: a side-by-side table, the goal, what was measured, one CDF plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from sim.calibrate.compare import GOAL_KS, GOAL_RELATIVE, Comparison

__all__ = ["write_calibration", "markdown", "plot_cdf"]


def _fmt(metric: str, v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    if metric == "bootstrap_success_rate":
        return f"{v:.1%}"
    if metric.startswith("time_to_ready"):
        return f"{v:.2f} s"
    if metric.endswith(("amplification", ".mean")):
        return f"{v:.2f}"
    return f"{v:,.0f}"


def _err(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:+.1%}"


def markdown(cmp: Comparison, title: str, notes: list[str], fit_parameters: list[str] | None) -> str:
    others = [e for e in cmp.engines if e != cmp.reference]
    head = [f"{cmp.reference} (reference)"] + [c for e in others for c in (e, f"{e} error")]
    lines = [f"# Calibration: {title}", ""]
    lines += [f"- {n}" for n in notes] + [""]
    lines += ["| metric | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for r in cmp.rows:
        cells = [_fmt(r.metric, r.values[cmp.reference])]
        for e in others:
            cells += [_fmt(r.metric, r.values[e]), _err(r.errors[e])]
        lines.append(f"| {r.metric} | " + " | ".join(cells) + " |")
    lines.append("")
    for e in others:
        ok, misses = cmp.goal(e)
        lines.append(f"- time to ready, {e} vs {cmp.reference}: KS distance {cmp.ks[e]:.3f} "
                     f"(p = {cmp.ks_pvalue[e]:.3g}; {len(cmp.time_to_ready[e])} vs "
                     f"{len(cmp.time_to_ready[cmp.reference])} ready instances)")
        lines.append(f"- goal (p50/p95/p99 within {GOAL_RELATIVE:.0%}, KS < {GOAL_KS}): "
                     + ("met" if ok else "not met: " + "; ".join(misses)))
    if fit_parameters is not None:
        lines += ["", "## Parameters measured on the fakes (--fit)", ""]
        lines += [f"- {p}" for p in fit_parameters] or ["- none"]
        lines.append("- everything else (arrivals, quotas, timeouts, retries, faults, local work) is the scenario's own")
    lines += ["", "![time to ready CDF](time_to_ready_cdf.png)", ""]
    return "\n".join(lines)


def plot_cdf(cmp: Comparison, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for engine in cmp.engines:
        ttr = np.sort(cmp.time_to_ready[engine])
        if not len(ttr):
            continue
        label = f"{engine} (n={len(ttr)})"
        if engine != cmp.reference:
            label += f", KS {cmp.ks[engine]:.3f}"
        ax.step(ttr, np.arange(1, len(ttr) + 1) / len(ttr), where="post", label=label)
    ax.set_xlabel("time to ready (s, from first launch)")
    ax.set_ylabel("share of instances ready")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_calibration(folder: Path, cmp: Comparison, title: str, notes: list[str],
                      fit_parameters: list[str] | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calibration.md").write_text(markdown(cmp, title, notes, fit_parameters))
    plot_cdf(cmp, folder / "time_to_ready_cdf.png", title)
    data = {
        "reference": cmp.reference, "engines": cmp.engines, "notes": notes,
        "rows": [{"metric": r.metric, "values": r.values, "relative_error": r.errors} for r in cmp.rows],
        "ks": cmp.ks, "ks_pvalue": cmp.ks_pvalue,
        "goal": {e: cmp.goal(e)[0] for e in cmp.engines if e != cmp.reference},
        "fit_parameters": fit_parameters,
    }
    (folder / "calibration.json").write_text(json.dumps(_nulls(data), indent=2))
    return folder / "calibration.md"


def _nulls(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _nulls(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_nulls(v) for v in o]
    return o
