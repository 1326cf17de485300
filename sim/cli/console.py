"""What the CLI shows on a terminal: the rich console, the progress bar, a dry run's plan."""

from __future__ import annotations

import sys

__all__ = ["make_console", "ProgressBar", "print_plan"]


def make_console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped into a file or CI log: wide enough that table columns are not cut.
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 120)


class ProgressBar:
    """A rich progress bar on stderr over simulated time (only on a terminal)."""

    def __init__(self, quiet: bool, label: str = "simulating"):
        self.label = label
        self.enabled = not quiet and sys.stderr.isatty()
        self._bar = None
        self._task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn(self.label), BarColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), console=make_console(stderr=True), transient=True,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("sim", total=1.0, status="")
        return self._update

    def _update(self, now, horizon, finished, size):
        self._bar.update(self._task, completed=min(1.0, now / horizon),
                         status=f"t={now:,.0f}s  {finished:,}/{size:,} instances done")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)


def print_plan(p) -> None:
    from rich.table import Table

    from sim.units import format_duration

    console = make_console()
    console.print(f"[bold]{p.name}[/]: {p.size:,} instances, {p.arrival}; "
                  f"seed {p.seed}, horizon {format_duration(p.horizon)}")
    console.print("steps, in the order they can run:")
    for line in p.steps:
        console.print(f"  {line}")
    table = Table(title="demand on paper (first attempts, peak launch rate)")
    for col in ("operation", "calls/boot", "peak demand /s", "quota /s", "capacity /s"):
        table.add_column(col, justify="right" if col != "operation" else "left")
    for op in p.operations:
        table.add_row(op.operation, str(op.calls_per_boot), f"{op.peak_demand_rps:,.0f}",
                      "-" if op.quota_rps is None else f"{op.quota_rps:,.0f}",
                      f"{op.capacity_rps:,.0f}")
    console.print(table)
    for f in p.faults:
        console.print(f"fault: {f}")
    for s in p.slos:
        console.print(f"SLO: {s}")
    for w in p.warnings():
        console.print(f"[bold yellow]warning:[/] {w}")
    console.print("dry run: nothing was simulated")
