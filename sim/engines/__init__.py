"""Engines: ``run(scenario, seed) -> Run``. ``sim`` models; ``exec`` and ``load`` run for real.

Each engine declares here the metrics it cannot measure (``NOT_MEASURED``): the report shows
them as "not measured" and an SLO on one fails unless the run allows unmeasured SLOs. Kept in
this light module (not in each engine package) so reading a run folder never imports an engine.
"""

__all__ = ["ENGINES", "NOT_MEASURED", "unmeasured_metrics"]

ENGINES = ("sim", "exec", "load")

NOT_MEASURED: dict[str, frozenset[str]] = {
    # The model runs no script: nothing can leak a secret into a log or a readable file.
    "sim": frozenset({"secret_exposure_events"}),
    # Real processes: the findings scan logs and files (sim.engines.exec.findings).
    "exec": frozenset(),
    # Load generation drives the fakes without a bootstrap script: no findings either.
    "load": frozenset({"secret_exposure_events"}),
}


def unmeasured_metrics(engine: str) -> frozenset[str]:
    """Metric names ``engine`` cannot measure (none for an engine this version does not know)."""
    return NOT_MEASURED.get(engine, frozenset())
