"""Load a scenario file: YAML -> overrides -> validated Scenario, or every problem at once.

Every problem names the file, the field path (``fleet.arrival.over``), the line where the
parser knows it, what was expected and what was given. Nothing runs on a scenario that has a
problem.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import InvalidArgument, InvalidInput, InvalidScenario, Problem
from sim.scenario.model import Scenario
from sim.scenario.problems import dotted, describe_value, problems_from, json_schema

__all__ = ["load_scenario", "parse_scenario", "apply_override", "scenario_hash", "json_schema"]


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read and validate a scenario file; ``overrides`` are ``path=value`` strings (``--set``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such scenario file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory; expected a scenario YAML file") from None
    except PermissionError:
        raise InvalidInput(f"{path}: cannot read the scenario file (permission denied)") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path}: not a text file; expected UTF-8 YAML, got byte {exc.object[exc.start]:#04x} "
            f"at offset {exc.start}"
        ) from None
    return parse_scenario(text, str(path), overrides)


@dataclass(frozen=True)
class _FileProblem(Problem):
    """A problem with the file as a whole (YAML syntax, empty file): there is no field to name."""

    def render(self, file: str | None) -> str:
        where = file or "<scenario>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


def _yaml_problem(exc: yaml.YAMLError) -> Problem:
    """PyYAML's error as one line: 'while parsing X (line 7), expected Y, but got Z (column 10)'."""
    mark = getattr(exc, "problem_mark", None)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    parts = []
    if context:
        on_line = context_mark is not None and (mark is None or context_mark.line != mark.line)
        parts.append(context + (f" (line {context_mark.line + 1})" if on_line else ""))
    reason = getattr(exc, "problem", None) or str(exc)
    parts.append(reason + (f" (column {mark.column + 1})" if mark is not None else ""))
    if "'\\t'" in reason:
        parts.append("indent with spaces: YAML does not allow tabs there")
    return _FileProblem("", "not valid YAML: " + ", ".join(parts), mark.line + 1 if mark else None)


def parse_scenario(text: str, file: str | None = None, overrides=()) -> Scenario:
    """Validate scenario YAML ``text`` (``file`` names it in messages) after ``overrides``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines, duplicates, recursive = _line_index(node)
        if recursive:
            raise InvalidScenario(file, recursive)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidScenario(file, [_yaml_problem(exc)]) from None
    except (ValueError, TypeError, IndexError) as exc:  # PyYAML's own, for `!!int text`
        raise InvalidScenario(file, [_FileProblem(
            "", f"not valid YAML: a tagged value cannot be read ({exc})", _bad_scalar_line(node)
        )]) from None
    if data is None:
        raise InvalidScenario(file, [_FileProblem(
            "", "the file is empty; expected a scenario mapping (name, fleet, dependencies, "
            "bootstrap, ...)")])
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"{describe_value(data)} ({type(data).__name__})"
        raise InvalidScenario(file, [_FileProblem(
            "", f"expected a mapping of scenario fields (name: ..., fleet: ...), got {got}", 1)])
    if overrides:
        data = _unshared(data)
    overridden: dict[tuple, str] = {}
    for item in overrides:
        overridden[apply_override(data, item)] = item
    problems = list(duplicates)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems += problems_from(exc, data, lines, overridden)
    if problems:
        raise InvalidScenario(file, problems)
    return scenario


def apply_override(data: dict, item: str) -> tuple:
    """Set ``a.b.0.c=value`` in ``data`` (value parsed as YAML); returns the key path."""
    if "=" not in item:
        raise InvalidArgument(f"--set expects PATH=VALUE (e.g. fleet.size=500), got {item!r}")
    path_text, raw = item.split("=", 1)
    path_text = path_text.strip()
    keys = path_text.split(".")
    if not path_text or any(k == "" for k in keys):
        raise InvalidArgument(f"--set expects PATH=VALUE with a dotted path, got {item!r}")
    try:
        if _line_index(yaml.compose(raw, Loader=yaml.SafeLoader))[2]:
            raise InvalidArgument(f"--set {item}: the value refers to itself (a recursive alias)")
        value = yaml.safe_load(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError, TypeError, IndexError):
        value = raw  # not YAML (or not readable YAML): the text as written
    cur: Any = data
    path: list = []
    for i, k in enumerate(keys):
        if not isinstance(cur, (dict, list)):
            raise InvalidArgument(
                f"--set {item}: {dotted(path)} holds {describe_value(cur)}, not a mapping or list, so it "
                f"has no field {k!r}"
            )
        key = _index(k, cur, item) if isinstance(cur, list) else k
        path.append(key)
        if i == len(keys) - 1:
            cur[key] = value
        else:
            if isinstance(cur, dict) and cur.get(key) is None:
                cur[key] = {}  # e.g. fleet.replacement.enabled=true when there is no replacement yet
            cur = cur[key]
    return tuple(path)


def _unshared(value):
    """A copy in which no two places share an object. YAML aliases (``retry: *fast``) load as
    one shared dict; without this, ``--set bootstrap.steps.0.retry.kind=...`` would also change
    every step that reuses the anchor."""
    if isinstance(value, dict):
        return {k: _unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared(v) for v in value]
    return value


def _index(key, seq, item):
    try:
        idx = int(key)
    except ValueError:
        raise InvalidArgument(
            f"--set {item}: expected a list index (0..{len(seq) - 1}) at {key!r}, got a name"
        ) from None
    if not -len(seq) <= idx < len(seq):
        raise InvalidArgument(
            f"--set {item}: index {idx} is out of range; the list has {len(seq)} items "
            f"(0..{len(seq) - 1})"
        )
    return idx % len(seq)  # -1 -> the last item, spelt the way validation errors spell it


def _line_index(node) -> tuple[dict[tuple, int], list[Problem], list[Problem]]:
    """Each key path -> the 1-based line where it starts; plus duplicate keys, and aliases that
    refer to their own anchor (a recursive structure nothing can validate)."""
    out: dict[tuple, int] = {}
    problems: list[Problem] = []
    recursive: list[Problem] = []
    stack: set[int] = set()

    def walk(n, path):
        out.setdefault(path, n.start_mark.line + 1)
        if id(n) in stack:
            recursive.append(Problem(dotted(path), "an alias refers to the anchor it is inside "
                                    "(a recursive structure); expected plain nested data",
                                    n.start_mark.line + 1))
            return
        stack.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark)
                if k.tag == "tag:yaml.org,2002:int" and key.lstrip("-").isdigit():
                    key = int(key)  # as the loaded data (and so pydantic's loc) spells it
                line = k.start_mark.line + 1
                if key in first and key != "<<":
                    problems.append(Problem(
                        dotted(path + (key,)),
                        f"duplicate key {key!r} (first on line {first[key]}); YAML would "
                        "silently keep only the last one", line))
                first.setdefault(key, line)
                out[path + (key,)] = line
                walk(v, path + (key,))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, path + (i,))
        stack.discard(id(n))

    if node is not None:
        walk(node, ())
    return out, problems, recursive


def _bad_scalar_line(root) -> int | None:
    """The line of the first scalar PyYAML cannot construct (e.g. ``!!int many``)."""
    constructor = yaml.SafeLoader("")
    pending = [root] if root is not None else []
    while pending:
        n = pending.pop(0)
        if isinstance(n, yaml.ScalarNode):
            try:
                constructor.construct_object(n)
            except Exception:  # whatever PyYAML raises is the answer we are looking for
                return n.start_mark.line + 1
        elif isinstance(n, yaml.MappingNode):
            pending.extend(x for pair in n.value for x in pair)
        elif isinstance(n, yaml.SequenceNode):
            pending.extend(n.value)
    return None


def scenario_hash(scenario: Scenario) -> str:
    """A short, stable hash of the validated scenario (what a run was computed from)."""
    canonical = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
