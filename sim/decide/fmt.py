"""Numbers in the text of many-run outputs: compare's table, the sweep table, test failures.

+inf is "never" (a fleet percentile some instances never reached, a drain that never ended),
never "inf"; NaN is not measured. An Interval over seeds of which some never reached the
metric has no finite interval: it is shown as the share of seeds that never did.
"""

from __future__ import annotations

import math

__all__ = ["NEVER", "fmt_number", "fmt_estimate", "fmt_never", "fmt_delta", "fmt_interval"]

NEVER = "never"


def fmt_number(v, missing: str = "n/a", digits: int = 4) -> str:
    """``1,234``, ``0.0123``, ``never`` (+inf), ``missing`` (None or NaN)."""
    if v is None or v != v:
        return missing
    if math.isinf(v):
        return NEVER if v > 0 else "-inf"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.{digits}g}"
    return f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:.{digits}g}"


def fmt_estimate(iv, missing: str = "n/a", digits: int = 4) -> str:
    """A mean over seeds: the number, or ``never in 2 of 6 seeds`` / ``never (all 6 seeds)``
    when some seeds never reached the metric (the mean is then +inf)."""
    if iv.method == "never" and iv.estimate == math.inf:
        return fmt_never(iv.never, iv.n)
    return fmt_number(iv.estimate, missing, digits)


def fmt_never(share: float, seeds: int) -> str:
    """``never in 2 of 6 seeds``, ``never (all 6 seeds)``."""
    never = round(share * seeds)
    return f"{NEVER} (all {seeds} seeds)" if never == seeds else f"{NEVER} in {never} of {seeds} seeds"


def fmt_delta(iv) -> str:
    """B - A: a number, ``B never`` / ``A never`` (a percentile one side never reached), or
    ``+20% of seeds never`` (the difference of the shares of seeds that never reached it)."""
    if iv.delta_of == "never share":
        return f"{iv.estimate:+.0%} of seeds {NEVER}"
    if math.isinf(iv.estimate):
        return f"B {NEVER}" if iv.estimate > 0 else f"A {NEVER}"
    return fmt_number(iv.estimate)


def fmt_interval(iv) -> str:
    """``[low, high]``, in shares for a never-share delta; ``-`` when there is none."""
    if iv.low != iv.low:
        return "-"
    if iv.delta_of == "never share":
        return f"[{iv.low:+.0%}, {iv.high:+.0%}]"
    return f"[{_end(iv.low)}, {_end(iv.high)}]"


def _end(v: float) -> str:
    if math.isinf(v):
        return f"+{NEVER}" if v > 0 else f"-{NEVER}"
    return fmt_number(v)
