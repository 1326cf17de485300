"""A compact summary on the terminal (``bootstorm run`` prints it), drawn with rich."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sim.metrics import Summary
from sim.scenario.slos import DEPENDENCY_METRICS

from .format import (dependency_cell, format_seconds, format_value, measured_cell,
                     verdict_label, verdict_line)

__all__ = ["render_console"]


def _headline(s: Summary) -> Table:
    m = s.metrics
    table = Table(title=f"bootstorm: {s.meta.get('scenario_name') or 'scenario'} "
                        f"({s.meta.get('engine')}, seed {s.meta.get('seed')})",
                  show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("instances / attempts", f"{s.instances:,} / {s.attempts:,}")
    if s.meta.get("engine") == "exec":
        scale = s.meta.get("time_scale", 1.0) or 1.0
        table.add_row("time scale / isolation",
                      f"{scale:g} (metrics on the scenario's clock) / {s.meta.get('isolation') or 'not recorded'}")
    table.add_row("success rate", format_value(m["bootstrap_success_rate"], "ratio"))
    table.add_row("time to ready p50 / p95 / p99 (fleet)", " / ".join(
        format_seconds(m[f"time_to_ready.{p}"]) for p in ("p50", "p95", "p99")))
    table.add_row("  of ready instances", " / ".join(
        format_seconds(m[f"time_to_ready_of_ready.{p}"]) for p in ("p50", "p95", "p99")))
    table.add_row("retries per boot mean / max", " / ".join(
        format_value(m[f"bootstrap_retries.{k}"], "count") for k in ("mean", "max")))
    table.add_row("error rate", format_value(m["bootstrap_error_rate"], "per_mille"))
    outcomes = ", ".join(f"{k} {n:,}" for k, n in s.outcomes.items() if n)
    table.add_row("outcomes", outcomes or "none")
    if s.findings:  # exec engine: what a reviewer of the script would flag, per attempt
        table.add_row("findings (attempts)", ", ".join(
            f"{name} {n:,}" for name, n in sorted(s.findings.items(), key=lambda kv: -kv[1])))
    return table


def _slos(s: Summary) -> Table:
    table = Table(title="SLOs", title_justify="left")
    table.add_column("SLO")
    table.add_column("measured", justify="right")
    table.add_column("result", justify="center")
    for v in s.verdicts:
        label = verdict_label(v)
        color = ("green" if v.verdict == "pass" else "dim" if v.verdict == "not_applicable"
                 else "yellow" if v.passed else "red")
        table.add_row(v.slo, measured_cell(v), f"[bold {color}]{label}[/]")
    return table


def _dependencies(s: Summary) -> Table:
    table = Table(title="Dependencies", title_justify="left")
    columns = (("peak offered", "peak_offered_rps"), ("throttled", "throttled_share"),
               ("amplification", "retry_amplification"), ("goodput", "goodput"),
               ("drain", "time_to_drain"), ("metastable", "metastable"))
    table.add_column("dependency")
    for label, _ in columns:
        table.add_column(label, justify="right")
    for name in s.dependencies:
        values = s.dependency(name)
        cells = [dependency_cell(values, key, DEPENDENCY_METRICS[key], s.faults)
                 for _, key in columns]
        if values.get("metastable") == 1.0:
            cells[-1] = "[bold red]yes[/]"
        table.add_row(name, *cells)
    return table


def render_console(summary: Summary, console: Console) -> None:
    """Print the headline, SLO verdicts, dependency peaks and warnings."""
    console.print(_headline(summary))
    if summary.verdicts:
        console.print(_slos(summary))
    if summary.dependencies:
        console.print(_dependencies(summary))
    for warning in summary.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    if summary.verdicts:
        color = ("red" if not summary.slos_passed else "yellow" if summary.unmeasured
                 else "green")  # allowed but not measured: not a green pass
        line = verdict_line(summary.verdicts, summary.meta.get("engine"))
        console.print(f"[bold {color}]{line}[/]")
