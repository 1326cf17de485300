"""The SLO verdicts as JUnit XML (``junit.xml``): one testcase per SLO, so CI shows failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sim.metrics import Summary, Verdict

from .format import format_value

__all__ = ["render_junit"]


def _failure_message(v: Verdict) -> str:
    measured = format_value(v.measured, v.kind)
    wanted = f"{v.op} {format_value(v.threshold, v.kind)}"
    if measured == "n/a":
        return f"{v.metric} was not measured (NaN); expected {wanted}"
    return f"{v.metric} measured {measured}, expected {wanted}"


def render_junit(summary: Summary) -> str:
    """JUnit XML text: a ``testsuite`` named after the scenario, one ``testcase`` per SLO."""
    meta = summary.meta
    suite_name = f"bootstorm.{meta.get('scenario_name') or 'scenario'}"
    failures = sum(not v.passed for v in summary.verdicts)
    suites = ET.Element("testsuites", name="bootstorm", tests=str(len(summary.verdicts)),
                        failures=str(failures), errors="0")
    suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(summary.verdicts)),
                          failures=str(failures), errors="0", skipped="0",
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
        if not v.passed:
            failure = ET.SubElement(case, "failure", message=_failure_message(v),
                                    type="SLOViolation")
            failure.text = (
                f"SLO: {v.slo}\nmetric: {v.metric}\nmeasured: {v.measured!r} (base units)\n"
                f"threshold: {v.op} {v.threshold!r} (base units)\n"
            )
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{v.metric} measured {format_value(v.measured, v.kind)}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
