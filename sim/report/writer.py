"""Write a run's report files next to its raw files, or rewrite them from a run folder.

The files are written into a hidden staging folder first and moved into the run folder only
when every one is done: a report that fails half-way (a corrupt folder, a full disk) leaves
the folder as it was, never a new summary.json beside an old report.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from sim.errors import InvalidRunFolder
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
    with _staged(folder) as stage:
        (stage / "summary.json").write_text(summary.to_json() + "\n")
        (stage / "metrics.prom").write_text(render_openmetrics(summary))
        (stage / "junit.xml").write_text(render_junit(summary))
        written = []
        if plots:
            from .plots import write_plots  # matplotlib is slow to import: only when drawing

            written = write_plots(run, summary, stage)
        (stage / "report.md").write_text(render_markdown(summary, written))
    return summary


@contextmanager
def _staged(folder: Path):
    """A staging folder inside ``folder``; on success its files replace their namesakes."""
    stage = Path(tempfile.mkdtemp(prefix=".report-", dir=folder))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def report_from_folder(folder: Path, *, plots: bool = True,
                       allow_unmeasured: bool = False) -> Summary:
    """Re-read the run in ``folder`` (``Run.read``) and rewrite its report.

    A missing or corrupt file is ``InvalidRunFolder`` (bad input, exit 2), raised before any
    report file is touched.
    """
    run = Run.read(Path(folder))
    _check_slos(Path(folder) / "scenario.json", run.scenario)
    return write_report(run, folder, plots=plots, allow_unmeasured=allow_unmeasured)


def _check_slos(path: Path, scenario: dict) -> None:
    from pydantic import ValidationError

    from sim.metrics import parse_slos

    slos = scenario.get("slos") or []
    if not isinstance(slos, list):
        raise InvalidRunFolder(f"{path}: slos: expected an array of SLOs, got "
                               f"{type(slos).__name__}")
    for i, item in enumerate(slos):
        try:
            parse_slos([item])
        except ValidationError as exc:
            error = exc.errors()[0]
            raise InvalidRunFolder(f"{path}: slos.{i}: expected an SLO like "
                                   f"'time_to_ready.p95 <= 60s', got {item!r} "
                                   f"({error['msg']})") from None
