"""Write a run's report files next to its raw files, or rewrite them from a run folder."""

from __future__ import annotations

from pathlib import Path

from sim.metrics import Summary, summarize
from sim.results import Run

from .junit import render_junit
from .markdown import render_markdown
from .openmetrics import render_openmetrics

__all__ = ["write_report", "report_from_folder", "REPORT_FILES"]

REPORT_FILES = ("summary.json", "metrics.prom", "junit.xml", "report.md")


def write_report(run: Run, folder: Path, *, plots: bool = True,
                 allow_unmeasured: bool = False) -> Summary:
    """Compute the summary of ``run`` and write the report files and plots into ``folder``.

    ``folder`` is the run folder (``Run.write`` put the raw files there); it is created if
    missing. ``allow_unmeasured`` lets SLOs the run could not measure pass (still reported as
    not measured). Returns the Summary, for the caller to print.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(run, allow_unmeasured=allow_unmeasured)
    (folder / "summary.json").write_text(summary.to_json() + "\n")
    (folder / "metrics.prom").write_text(render_openmetrics(summary))
    (folder / "junit.xml").write_text(render_junit(summary))
    written = []
    if plots:
        from .plots import write_plots  # matplotlib is slow to import: only when drawing

        written = write_plots(run, summary, folder)
    (folder / "report.md").write_text(render_markdown(summary, written))
    return summary


def report_from_folder(folder: Path, *, plots: bool = True,
                       allow_unmeasured: bool = False) -> Summary:
    """Re-read the run in ``folder`` (``Run.read``) and rewrite its report."""
    return write_report(Run.read(Path(folder)), folder, plots=plots,
                        allow_unmeasured=allow_unmeasured)
