"""Several seeded runs of one scenario, as a test sees them: means, intervals, SLO shares.

``replicate`` runs a scenario once per seed (in this process, one after the other) and returns
an ``Outcome``; ``check_metric`` and ``check_slos`` return a failure message or None, with the
metric, the threshold, the interval over seeds and the run folders, so a failing test says
what to look at. The pytest plugin (``sim.pytest_plugin``) is a thin layer over these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from sim.decide.fmt import NEVER, fmt_estimate
from sim.decide.stats import Interval
from sim.decide.table import PointStats, aggregate
from sim.decide.task import applicable_slos, judged_slos

__all__ = ["Outcome", "replicate", "check_metric", "check_slos"]


@dataclass
class Outcome:
    scenario_name: str
    engine: str
    seeds: list[int]
    summaries: list  # sim.metrics.Summary, one per seed
    folders: list[Path | None]
    stats: PointStats = field(repr=False)

    @property
    def folder(self) -> Path | None:
        """The first run's folder (every seed's folder is in ``folders``)."""
        return self.folders[0] if self.folders else None

    @property
    def summary(self):
        """The first seed's Summary (for one-seed tests)."""
        return self.summaries[0]

    @property
    def metrics(self) -> dict[str, float]:
        """Each metric's mean over the seeds (NaN: not measured)."""
        return {k: iv.estimate for k, iv in self.stats.metrics.items()}

    def metric(self, name: str) -> Interval:
        iv = self.stats.metrics.get(name)
        return iv if iv is not None else Interval(math.nan, math.nan, math.nan, 0, "none")

    def slo_pass(self, slo: str) -> float:
        """The share of seeds in which the SLO (as written in the scenario) passed."""
        return self.stats.slo_pass.get(slo, math.nan)

    def where(self) -> str:
        folders = [str(f) for f in self.folders if f is not None]
        if not folders:
            return "no run folder written"
        if len(folders) == 1:
            return f"run folder: {folders[0]}"
        return f"run folders: {folders[0]} (+{len(folders) - 1} more in {Path(folders[0]).parent})"


def replicate(scenario, *, seeds: list[int], engine: str = "sim", out_dir=None,
              plots: bool = False, scenario_file: str | None = None) -> Outcome:
    """Run ``scenario`` once per seed; write each run's folder under ``out_dir`` (None: none)."""
    from sim.runner import run_scenario

    summaries, folders, records = [], [], []
    for seed in seeds:
        outcome = run_scenario(scenario, engine=engine, seed=seed, out_dir=out_dir, plots=plots,
                               scenario_file=scenario_file)
        s = outcome.summary
        summaries.append(s)
        folders.append(outcome.folder)
        records.append({"metrics": dict(s.metrics),
                        "slos": judged_slos(s.verdicts)})
    slos = applicable_slos(scenario, engine)
    return Outcome(scenario.name, engine, list(seeds), summaries, folders,
                   aggregate(records, slos, seed=seeds[0] if seeds else 0))


def _fmt(v: float) -> str:
    return "not measured" if v != v else NEVER if v == math.inf else f"{v:.6g}"


def _mean_text(iv: Interval) -> str:
    """The mean over seeds; ``never in 1 of 3 seeds`` when some seeds never reached it."""
    return fmt_estimate(iv) if iv.method == "never" and iv.estimate == math.inf else _fmt(iv.estimate)


def _interval_text(iv: Interval) -> str:
    """`` (mean of 3 seeds, 95% CI [a, b])``; a metric some seeds never reached has no finite
    interval: `` (no finite interval over seeds)``."""
    if iv.method == "never":
        return " (no finite interval over seeds)" if 0 < iv.never < 1 else ""
    if iv.n > 1 and iv.low == iv.low:
        return f" (mean of {iv.n} seeds, 95% CI [{_fmt(iv.low)}, {_fmt(iv.high)}])"
    return ""


def check_metric(outcome: Outcome, metric: str, op: str, threshold) -> str | None:
    """None when the metric's mean over seeds satisfies ``op threshold``; else why not.

    ``threshold`` is a number in base units or text with a unit as in an SLO (``2m``,
    ``99.9%``). A metric that was not measured fails.
    """
    from pydantic import ValidationError

    from sim.scenario.slos import SLO

    # As an SLO file would write it: 1 and true both mean "true" for a bool metric.
    value = threshold if isinstance(threshold, str) else (
        str(threshold).lower() if isinstance(threshold, (bool, int)) else repr(float(threshold)))
    try:
        slo = SLO.model_validate({"metric": metric, "op": op, "value": value})
    except ValidationError as exc:
        raise ValueError(f"assert_metric({metric!r}, {op!r}, {threshold!r}): "
                         f"{exc.errors()[0]['msg']}") from None
    iv = outcome.metric(metric)
    if slo.holds(iv.estimate):
        return None
    measured = _mean_text(iv) if iv.estimate == iv.estimate else "not measured (NaN)"
    return (f"{outcome.scenario_name}: {metric} = {measured}{_interval_text(iv)}; expected "
            f"{op} {threshold} (= {slo.threshold:g} in base units); seeds {outcome.seeds}; "
            f"{outcome.where()}")


def check_slos(outcome: Outcome, slo: str | None = None, probability: float = 1.0) -> str | None:
    """None when every SLO of the scenario (or the one whose text or metric is ``slo``) passed
    in at least ``probability`` of the seeds; else which ones did not, with their numbers."""
    from sim.metrics import parse_slos

    texts = outcome.stats.slos
    if slo is not None:
        texts = [t for t in texts if t == slo or t.split()[0] == slo]
        if not texts:
            return (f"{outcome.scenario_name}: no SLO {slo!r} in the scenario; it has: "
                    f"{', '.join(outcome.stats.slos) or 'none'}")
    failing = []
    for text in texts:
        share = outcome.slo_pass(text)
        if share >= probability - 1e-12:
            continue
        s = parse_slos([text])[0]
        iv = outcome.metric(s.metric)
        failing.append(f"  {text}: passed in {share:.0%} of {len(outcome.seeds)} seeds (needed "
                       f"{probability:.0%}); {s.metric} = {_mean_text(iv)}"
                       f"{_interval_text(iv)}, threshold {s.op} {s.threshold:g}")
    if not failing:
        return None
    return "\n".join([f"{outcome.scenario_name}: SLO not met (seeds {outcome.seeds}; "
                      f"{outcome.where()})"] + failing)
