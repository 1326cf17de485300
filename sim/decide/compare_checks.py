"""What a user asks of ``bootstorm compare`` besides the two sides: ``--baseline`` /
``--candidate`` option strings, and ``--fail-on-regression METRIC:THRESHOLD`` checks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.decide.fmt import fmt_delta, fmt_interval, fmt_number
from sim.decide.stats import direction
from sim.errors import InvalidArgument

if TYPE_CHECKING:
    from sim.decide.compare import Comparison

__all__ = ["parse_set_options", "parse_regression", "regressions"]


def parse_set_options(text: str, option: str) -> list[str]:
    """``'--set a=1 --set b=2'`` (or ``'a=1 b=2'``) -> ``['a=1', 'b=2']``."""
    import shlex

    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InvalidArgument(f"{option} {text!r}: {exc}") from None
    out, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--set":
            if i + 1 >= len(tokens):
                raise InvalidArgument(f"{option} {text!r}: --set needs PATH=VALUE after it")
            out.append(tokens[i + 1])
            i += 2
            continue
        if tok.startswith("--set="):
            out.append(tok[len("--set="):])
        elif "=" in tok and not tok.startswith("-"):
            out.append(tok)
        else:
            raise InvalidArgument(f"{option} {text!r}: expected '--set PATH=VALUE ...', got {tok!r}")
        i += 1
    return out


def parse_regression(text: str) -> tuple[str, str]:
    """``time_to_ready.p95:10s`` -> (metric, threshold text); checked against the metric list."""
    from sim.scenario.slos import metric_kind

    metric, sep, threshold = text.rpartition(":")
    if not sep or not metric or not threshold.strip():
        raise InvalidArgument(f"--fail-on-regression expects METRIC:THRESHOLD (e.g. "
                              f"time_to_ready.p95:10s or bootstrap_success_rate:1%), got {text!r}")
    if metric_kind(metric) is None:
        raise InvalidArgument(f"--fail-on-regression {text}: unknown metric {metric!r}; "
                              "expected a metric name as in an SLO (time_to_ready.p95, ...)")
    _threshold(metric, threshold, 1.0, text)  # fails now on a bad value
    return metric, threshold.strip()


def _threshold(metric: str, text: str, baseline: float, option: str) -> float:
    from sim.units import parse_duration

    text = text.strip()
    try:
        if text.endswith("%"):
            return abs(baseline) * float(text[:-1]) / 100
        try:
            return float(text)
        except ValueError:
            return parse_duration(text)
    except ValueError:
        raise InvalidArgument(f"--fail-on-regression {option}: expected a threshold like 10, "
                              f"30s or 5% (of the baseline), got {text!r}") from None


def regressions(comparison: Comparison, checks: list[tuple[str, str]]) -> list[str]:
    """Messages for each check the candidate fails: the metric got significantly worse by more
    than the threshold (``N%``: of the baseline's value), or was not measured."""
    failures = []
    for metric, threshold_text in checks:
        d = comparison.get(metric)
        if d is None or d.delta.estimate != d.delta.estimate:
            failures.append(f"{metric}: not measured in both runs, so it cannot be shown not to "
                            "have regressed")
            continue
        ci = f"95% CI of B - A {fmt_interval(d.delta)}"
        if d.delta.delta_of == "never share":  # some seeds never reached it: no value delta
            if d.verdict == "worse":
                failures.append(f"{metric}: worse: B never reached it in {d.candidate_never:.0%} "
                                f"of the seeds, A in {d.baseline_never:.0%} ({ci}); never is "
                                f"worse than any threshold, {threshold_text} included")
            continue
        allowed = _threshold(metric, threshold_text, d.baseline, f"{metric}:{threshold_text}")
        worse_by = -d.delta.estimate * (direction(metric) or -1)
        if d.verdict == "worse" and worse_by > allowed:
            by = fmt_delta(d.delta) if math.isinf(worse_by) else fmt_number(worse_by)
            failures.append(f"{metric}: worse by {by} (A {fmt_number(d.baseline)} -> B "
                            f"{fmt_number(d.candidate)}, {ci}), more than the allowed "
                            f"{threshold_text}")
    return failures
