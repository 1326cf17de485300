"""``report.md``: the run for people, tables and plots (linked as relative PNG files)."""

from __future__ import annotations

from sim.metrics import Summary
from sim.metrics.dependencies import INSTANT_FAULTS
from sim.scenario.slos import DEPENDENCY_METRICS, PERCENTILES

from .format import (dependency_cell, format_seconds, format_value, measured_cell,
                     verdict_label, verdict_line)

__all__ = ["render_markdown", "DISTRIBUTIONS"]

DISTRIBUTIONS = ("time_to_ready", "time_to_ready_of_ready", "secret_fetch_latency", "agent_start_time", "cold_start_latency",
                 "initial_metric_gap")
_DEPENDENCY_COLUMNS = (
    ("peak offered", "peak_offered_rps"), ("peak served", "peak_served_rps"),
    ("throttled", "throttled_share"), ("failed", "failed_share"), ("timed out", "timed_out_share"),
    ("amplification", "retry_amplification"), ("goodput", "goodput"),
    ("latency p50", "latency.p50"), ("latency p99", "latency.p99"),
    ("time to drain", "time_to_drain"), ("metastable", "metastable"),
)


def _cell(text: object) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]], left: int = 1) -> list[str]:
    """A Markdown table; the first ``left`` columns are text, the others numbers (right-aligned)."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _image(name: str, alt: str, plots: list[str]) -> list[str]:
    return [f"![{alt}]({name})", ""] if name in plots else []


def _headline(s: Summary) -> list[str]:
    m = s.metrics
    ttr = " / ".join(format_seconds(m[f"time_to_ready.{p}"]) for p in ("p50", "p95", "p99"))
    ready = " / ".join(format_seconds(m[f"time_to_ready_of_ready.{p}"])
                       for p in ("p50", "p95", "p99"))
    rows = [
        ["instances launched", f"{s.instances:,}"],
        ["boot attempts", f"{s.attempts:,}"],
        ["bootstrap success rate", format_value(m["bootstrap_success_rate"], "ratio")],
        ["time to ready p50 / p95 / p99, of the fleet", ttr],
        ["time to ready p50 / p95 / p99, of ready instances", ready],
        ["retries per boot mean / p99 / max", " / ".join(
            format_value(m[f"bootstrap_retries.{k}"], "count") for k in ("mean", "p99", "max"))],
        ["bootstrap error rate", format_value(m["bootstrap_error_rate"], "per_mille")],
    ]
    return _table(["", "value"], rows)


def _slos(s: Summary) -> list[str]:
    if not s.verdicts:
        return ["The scenario sets no SLOs.", ""]
    rows = [[v.slo, measured_cell(v), f"{v.op} {format_value(v.threshold, v.kind)}",
             verdict_label(v) if v.passed else f"**{verdict_label(v)}**"] for v in s.verdicts]
    return _table(["SLO", "measured", "threshold", "result"], rows, left=4)


def _dependencies(s: Summary) -> list[str]:
    if not s.dependencies:
        return ["No dependency series in this run.", ""]
    rows = []
    for name in s.dependencies:
        values = s.dependency(name)
        rows.append([name] + [dependency_cell(values, key, DEPENDENCY_METRICS[key], s.faults)
                              for _, key in _DEPENDENCY_COLUMNS])
    return _table(["dependency"] + [label for label, _ in _DEPENDENCY_COLUMNS], rows)


def _fault_note(fault: dict, run_end: float) -> str:
    if run_end and fault["start"] >= run_end:
        return f"never happened: the run ended at {format_seconds(run_end)}"
    if fault["kind"] in INSTANT_FAULTS:
        return "instant"
    end = fault["end"]
    if end is None or end != end or (run_end and end >= run_end):
        return "still on when the run ended"
    return ""


def _faults(s: Summary) -> list[str]:
    if not s.faults:
        return ["No faults were injected.", ""]
    run_end = s.meta.get("sim_end") or s.meta.get("horizon") or 0.0
    rows = [[f["kind"], f["target"], format_seconds(f["start"]),
             "-" if f["kind"] in INSTANT_FAULTS
             else format_seconds(f["end"]) if f["end"] is not None else "end of run",
             _fault_note(f, run_end),
             ", ".join(f"{k}={v}" for k, v in (f.get("params") or {}).items())] for f in s.faults]
    return _table(["kind", "target", "from", "to", "note", "parameters"], rows, left=6)


def _counts(title: str, counts: dict[str, int], empty: str) -> list[str]:
    if not counts:
        return [f"{empty}", ""]
    return _table([title, "attempts"], [[k, f"{n:,}"] for k, n in counts.items()])


def _distributions(s: Summary) -> list[str]:
    rows = [[name] + [format_seconds(s.metrics.get(f"{name}.{p}")) for p in PERCENTILES]
            for name in DISTRIBUTIONS]
    return _table(["metric"] + list(PERCENTILES), rows)


def _clock_lines(meta: dict) -> list[str]:
    """The time scale (and isolation mode) an exec run ran with; nothing for a plain sim run."""
    scale = meta.get("time_scale", 1.0) or 1.0
    isolation = meta.get("isolation")
    if meta.get("engine") != "exec" and scale == 1.0 and isolation is None:
        return []
    parts = [f"Time scale {scale:g}: the scenario's times ran {1 / scale:g}x "
             f"{'faster' if scale < 1 else 'slower' if scale > 1 else 'as written'}; metrics and SLOs "
             "are on the scenario's clock (wall seconds / time scale)"]
    if meta.get("engine") == "exec" or isolation is not None:
        parts.append(f"isolation `{isolation or 'not recorded'}`")
    return ["; ".join(parts) + ".", ""]


def render_markdown(summary: Summary, plots: list[str]) -> str:
    """The report text; ``plots`` are the PNG file names written next to it."""
    s, meta = summary, summary.meta
    line = verdict_line(s.verdicts, meta.get("engine"))
    line = line[0].upper() + line[1:] + "."
    verdict = line if s.slos_passed else f"**{line}**"
    out = [
        f"# bootstorm report: {meta.get('scenario_name') or 'scenario'}",
        "",
        f"Engine `{meta.get('engine')}`, seed {meta.get('seed')}, horizon "
        f"{format_seconds(meta.get('horizon'))}, started {meta.get('started_at')}, "
        f"wall time {format_seconds(meta.get('wall_seconds') or 0.0)}, scenario hash "
        f"`{meta.get('scenario_hash')}`.",
        "",
        *_clock_lines(meta),
        verdict,
        "",
    ]
    if s.warnings:
        out += [f"**{len(s.warnings)} validity warning(s): see [Warnings](#warnings) before "
                "trusting these numbers.**", ""]
    out += ["## Headline", ""] + _headline(s)
    out += ["## SLOs", ""] + _slos(s)
    out += ["## Time to ready", ""] + _image("time_to_ready_cdf.png", "time to ready CDF", plots)
    out += _distributions(s)
    out += ["## Dependencies", ""] + _dependencies(s)
    out += _image("dependency_load.png", "load per dependency over time", plots)
    out += ["### Faults", ""] + _faults(s)
    out += ["## Outcomes and errors", ""] + _counts("outcome", s.outcomes, "")
    out += _counts("error class", s.error_classes, "No errors.")
    out += _counts("failed step", s.failed_steps, "No step failed.")
    out += _counts("finding", s.findings, "No findings.")
    out += ["### Retries", ""]
    out += _table(["step", "mean retries per attempt"],
                  [[k, format_value(v, "count")] for k, v in s.step_retries.items()])
    out += _image("retries_per_boot.png", "retries per boot attempt", plots)
    out += ["## Phase breakdown", ""]
    out += _table(["phase", "attempts", "median", "p95"],
                  [[p.name, f"{p.count:,}", format_seconds(p.p50), format_seconds(p.p95)]
                   for p in s.phases]) if s.phases else ["No attempts.", ""]
    out += _image("phase_breakdown.png", "median and p95 time per boot phase", plots)
    out += ["## Warnings", ""]
    out += [f"- {w}" for w in s.warnings] if s.warnings else ["None."]
    out += ["", "## Files", "",
            "`summary.json` (all numbers), `metrics.prom` (OpenMetrics), `junit.xml` (SLOs as "
            "tests), `attempts.csv` (one row per boot attempt), `dependencies/` (load per "
            "interval), `run.json`, `scenario.json`, `faults.json`.", ""]
    return "\n".join(out)
