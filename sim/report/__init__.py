"""The report of a run: files, plots and a console summary, from a Run only.

Written into the run folder, next to the raw files ``Run.write`` put there:

- ``summary.json``: every metric (``sim.metrics``), SLO verdicts (``pass``, ``fail``,
  ``unmeasured``, ``not_applicable``), outcome/error/step counts, retries per step, phases, meta, validity
  warnings; NaN (not measured) is ``null``, +inf (never) is ``"inf"``.
- ``metrics.prom``: OpenMetrics text (``bootstorm_*`` gauges, ``# EOF`` at the end).
- ``junit.xml``: one testcase per SLO; a failed SLO is a failure with measured vs threshold,
  an unmeasured one a failure that says so (``skipped`` when unmeasured SLOs are allowed); one
  scoped to other engines is ``skipped`` with the reason ``applies to exec, load``.
- ``report.md``: tables and the plots, linked as relative PNG files:
  ``time_to_ready_cdf.png``, ``dependency_load.png``, ``retries_per_boot.png``,
  ``phase_breakdown.png``.
"""

from .console import render_console
from .junit import render_junit
from .markdown import render_markdown
from .openmetrics import render_openmetrics
from .writer import REPORT_FILES, report_from_folder, write_report

__all__ = [
    "write_report",
    "report_from_folder",
    "render_console",
    "render_openmetrics",
    "render_junit",
    "render_markdown",
    "REPORT_FILES",
]
