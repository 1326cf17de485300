"""The SLO verdicts as JUnit XML (``junit.xml``): one testcase per SLO, so CI shows failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sim.metrics import Summary, Verdict

from .format import NOT_MEASURED, applies_to, format_value

__all__ = ["render_junit"]


def _failure_message(v: Verdict) -> str:
    measured = format_value(v.measured, v.kind)
    wanted = f"{v.op} {format_value(v.threshold, v.kind)}"
    if v.verdict == "unmeasured":
        return (f"{v.metric} was not measured: this run could not measure it (engine, or "
                f"nothing to measure); an SLO that cannot be shown to hold fails; expected {wanted}")
    return f"{v.metric} measured {measured}, expected {wanted}"


def render_junit(summary: Summary) -> str:
    """JUnit XML text: a ``testsuite`` named after the scenario, one ``testcase`` per SLO."""
    meta = summary.meta
    suite_name = f"bootstorm.{meta.get('scenario_name') or 'scenario'}"
    failures = sum(not v.passed for v in summary.verdicts)
    skipped = sum(v.passed and v.verdict in ("unmeasured", "not_applicable")
                  for v in summary.verdicts)
    suites = ET.Element("testsuites", name="bootstorm", tests=str(len(summary.verdicts)),
                        failures=str(failures), errors="0", skipped=str(skipped))
    suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(summary.verdicts)),
                          failures=str(failures), errors="0", skipped=str(skipped),
                          time=f"{float(meta.get('wall_seconds') or 0.0):.3f}",
                          timestamp=str(meta.get("started_at", "")))
    props = ET.SubElement(suite, "properties")
    for key in ("engine", "seed", "scenario_name", "scenario_hash", "scenario_file", "partial"):
        value = meta.get(key)
        ET.SubElement(props, "property", name=key, value="" if value is None else str(value))
    for warning in summary.warnings:
        ET.SubElement(props, "property", name="validity_warning", value=warning)
    for v in summary.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"{suite_name}.slo", name=v.slo,
                             time="0")
        measured = NOT_MEASURED if v.verdict == "unmeasured" else f"{v.measured!r} (base units)"
        if not v.passed:
            failure = ET.SubElement(case, "failure", message=_failure_message(v),
                                    type="SLONotMeasured" if v.verdict == "unmeasured"
                                    else "SLOViolation")
            failure.text = (
                f"SLO: {v.slo}\nmetric: {v.metric}\nmeasured: {measured}\n"
                f"threshold: {v.op} {v.threshold!r} (base units)\n"
            )
        elif v.verdict == "not_applicable":  # scoped to other engines: not judged on this one
            ET.SubElement(case, "skipped", message=applies_to(v))
        elif v.verdict == "unmeasured":  # --allow-unmeasured: shown as skipped, not as passed
            ET.SubElement(case, "skipped", message=f"{v.metric} was not measured "
                          "(allowed by --allow-unmeasured)")
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{v.metric} measured {format_value(v.measured, v.kind)}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
