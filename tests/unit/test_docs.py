"""The docs a user reads: every relative link points at a file that exists, and what the docs
say about scenario fields is what the validator does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _scenario_fixtures import base, dump
from sim.errors import InvalidScenario
from sim.scenario import parse_scenario
from sim.scenario.faults import FAULT_KINDS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at a space (a title) or the parenthesis.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# `some/file.md`-style mentions of another page in code spans count as links too.
_MENTION = re.compile(r"`([^`\s]*/[^`\s]+\.md)`")


def _targets(text: str) -> list[str]:
    return _LINK.findall(text) + _MENTION.findall(text)


def test_the_link_pattern_finds_links_images_and_page_mentions():
    text = "see [a](docs/a.md#x) and ![b](b.png \"t\") and `../x/DESIGN.md` not [c](https://e.x)"
    assert _targets(text) == ["docs/a.md#x", "b.png", "https://e.x", "../x/DESIGN.md"]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_points_at_an_existing_file(page):
    broken = []
    for target in _targets(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{page.relative_to(ROOT)} links files that do not exist: {broken}"


def _fault_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| [^|]* \| (.*) \|$", text, flags=re.M)
    return {kind: meaning for kind, meaning in rows if kind in FAULT_KINDS}


_EXTRA = {"error_rate": {"rate": 0.5}, "latency": {"latency": "1s"},
          "throttle": {"quota": {"rate": 1}}, "slow_bandwidth": {"factor": 2}}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_docs_and_validator_agree_on_for(kind):
    meaning = _fault_rows()[kind]  # every kind is documented
    forbidden = "`for` is not allowed" in meaning
    target = {"expire_credentials": "instances", "throttle": "secretsmanager.GetSecretValue"}
    fault = {"at": "1m", "for": "2m", "target": target.get(kind, "secretsmanager"), "kind": kind,
             **_EXTRA.get(kind, {})}
    data = base()
    data["faults"] = [fault]
    try:
        parse_scenario(dump(data), "s.yaml")
        problems = []
    except InvalidScenario as exc:
        problems = exc.problems
    rejected = [p for p in problems if p.path == "faults.0.for"]
    assert bool(rejected) == forbidden, (kind, [p.message for p in problems])
    if not forbidden:
        assert problems == []


def test_the_readme_sample_output_shows_every_slo_of_the_storm_and_its_verdict_words():
    from sim.scenario import load_scenario

    storm = load_scenario(ROOT / "scenarios" / "autoscale-storm.yaml")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```\nbootstorm: autoscale-storm (sim, seed 42)", 1)[1].split("```", 1)[0]
    rows = [line.split("│")[1].strip() for line in block.splitlines()
            if line.startswith("│") and line.count("│") == 4]
    slo_rows = [r for r in rows if any(op in r for op in ("<=", ">=", "=="))]
    assert slo_rows == [slo.text for slo in storm.slos]  # whole, in order: nothing cut
    # The secret exposure SLO is scoped to exec: on sim it is not applicable, not a failure.
    assert "not applicable (applies to exec)" in block and "never" in block
    assert "1 not applicable on sim" in block and "not measured" not in block
