"""The one result schema every engine writes: a Run.

A Run holds, and only holds, what happened:

- ``attempts``: one row per boot attempt (an instance may boot several times), columnar so a
  million rows stay compact: launch, bootstrap start, end, ready time, outcome, error class,
  failed step, retries and calls (total and per step), the times of the marks
  (``agent_started``, ``secret_fetched``, ``app_started``, ``config_validated``, ``ready``), CPU
  seconds where known, findings (exec engine).
- ``dependencies``: per dependency, per interval (1 s by default): offered, served, throttled,
  failed, timed out, rejected, work done for callers who had given up, bytes, peak in flight,
  and a latency histogram so percentiles per interval come out without keeping any call.
- ``faults``: the fault timeline as applied.
- ``meta``: engine, seed, scenario name and hash, versions, wall time, validity warnings,
  whether the run is partial.

Metrics are computed from a Run only (``sim.metrics``), never inside an engine.
"""

from sim.results.attempts import MARKS, OUTCOMES, AttemptTable
from sim.results.histogram import LATENCY_BIN_EDGES, N_BINS, latency_bin, percentile_from_histogram
from sim.results.run import FaultWindow, Run, RunMeta
from sim.results.series import SERIES_FIELDS, DependencySeries

__all__ = [
    "OUTCOMES",
    "MARKS",
    "LATENCY_BIN_EDGES",
    "N_BINS",
    "SERIES_FIELDS",
    "AttemptTable",
    "DependencySeries",
    "FaultWindow",
    "RunMeta",
    "Run",
    "latency_bin",
    "percentile_from_histogram",
]
