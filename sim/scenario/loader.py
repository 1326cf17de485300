"""Load a scenario file: YAML -> overrides -> validated Scenario, or every problem at once.

Every problem names the file, the field path (``fleet.arrival.over``), the line where the
parser knows it, what was expected and what was given. Nothing runs on a scenario that has a
problem.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import InvalidArgument, InvalidInput, InvalidScenario, Problem
from sim.scenario.model import Scenario

__all__ = ["load_scenario", "parse_scenario", "apply_override", "scenario_hash", "json_schema"]


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read and validate a scenario file; ``overrides`` are ``path=value`` strings (``--set``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such scenario file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the scenario file ({exc.__class__.__name__})") from None
    return parse_scenario(text, str(path), overrides)


def parse_scenario(text: str, file: str | None = None, overrides=()) -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise InvalidScenario(file, [Problem("", f"not valid YAML: {reason}", line)]) from None
    if data is None:
        raise InvalidScenario(file, [Problem("", "the file is empty; expected a scenario mapping")])
    if not isinstance(data, dict):
        raise InvalidScenario(
            file, [Problem("", f"expected a mapping of scenario fields, got a {type(data).__name__}", 1)]
        )
    lines = _line_index(node)
    overridden: set[tuple] = set()
    for item in overrides:
        key_path = apply_override(data, item)
        overridden.add(key_path)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InvalidScenario(file, _problems(exc, data, lines, overridden)) from None


def apply_override(data: dict, item: str) -> tuple:
    """Set ``a.b.0.c=value`` in ``data`` (value parsed as YAML); returns the key path."""
    if "=" not in item:
        raise InvalidArgument(f"--set expects PATH=VALUE (e.g. fleet.size=500), got {item!r}")
    dotted, raw = item.split("=", 1)
    keys = [k for k in dotted.strip().split(".")]
    if not dotted.strip() or any(k == "" for k in keys):
        raise InvalidArgument(f"--set expects PATH=VALUE with a dotted path, got {item!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    cur: Any = data
    path: list = []
    for k in keys[:-1]:
        cur, key = _descend(cur, k, dotted, create=True)
        path.append(key)
    last = keys[-1]
    if isinstance(cur, list):
        idx = _index(last, cur, dotted)
        cur[idx] = value
        path.append(idx)
    elif isinstance(cur, dict):
        cur[last] = value
        path.append(last)
    else:
        raise InvalidArgument(f"--set {dotted}: {'.'.join(map(str, path))} is not a mapping or list")
    return tuple(path)


def _descend(cur, key, dotted, create):
    if isinstance(cur, list):
        idx = _index(key, cur, dotted)
        return cur[idx], idx
    if isinstance(cur, dict):
        if key not in cur or cur[key] is None:
            if not create:
                raise InvalidArgument(f"--set {dotted}: no field {key!r}")
            cur[key] = {}
        return cur[key], key
    raise InvalidArgument(f"--set {dotted}: cannot descend into {key!r}")


def _index(key, seq, dotted):
    try:
        idx = int(key)
    except ValueError:
        raise InvalidArgument(f"--set {dotted}: {key!r} must be a list index (0..{len(seq) - 1})") from None
    if not -len(seq) <= idx < len(seq):
        raise InvalidArgument(f"--set {dotted}: index {idx} out of range (0..{len(seq) - 1})")
    return idx


def _line_index(node) -> dict[tuple, int]:
    """Map each key path to the 1-based line where its value starts."""
    out: dict[tuple, int] = {}

    def walk(n, path):
        out[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = k.value
                out[path + (key,)] = k.start_mark.line + 1
                walk(v, path + (key,))
                out[path + (key,)] = k.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, path + (i,))

    if node is not None:
        walk(node, ())
    return out


def _display_path(loc: tuple, data) -> tuple:
    """The loc without pydantic's union tags (which are not keys in the data)."""
    out = []
    cur = data
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and part == "for_" and "for" in cur:
            out.append("for")
            cur = cur["for"]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, (dict, list)) and not isinstance(part, int) and out and part not in ("function-after", "function-before"):
            # A union tag (e.g. 'lognormal') or an unknown extra key: keep extras, drop tags.
            if isinstance(cur, dict) and cur.get("kind") == part:
                continue
            if isinstance(cur, dict):
                out.append(part)
                cur = None
        elif not isinstance(cur, (dict, list)):
            break
        else:
            if isinstance(cur, dict) and cur.get("kind") == part:
                continue
            out.append(part)
            cur = None
    return tuple(out)


def _got(value) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(exc: ValidationError, data, lines, overridden) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        path = _display_path(loc, data)
        msg = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "value_error" and "\n" in msg or (kind == "value_error" and ": " in msg and not path):
            # Cross-reference problems arrive as 'field.path: message' lines.
            for line_msg in msg.split("\n"):
                field, _, text = line_msg.partition(": ")
                key = tuple(int(p) if p.isdigit() else p for p in field.split("."))
                problems.append(Problem(field, text, _line_for(key, lines, overridden)))
            continue
        if kind == "missing":
            text = "required field is missing"
        elif kind == "extra_forbidden":
            text = f"unknown field {path[-1]!r}" + _suggest(path, data)
        elif kind == "union_tag_invalid":
            text = msg.replace("Input tag", "kind").replace("found using 'kind' does not match any of the expected tags:", "is not one of")
        elif kind == "union_tag_not_found":
            text = "needs a `kind` field saying which variant this is"
        else:
            text = msg.replace("Input should be", "expected")
            if "input" in err and kind not in ("value_error", "assertion_error"):
                text += f"; got {_got(err['input'])}"
        dotted = ".".join(map(str, path))
        if (dotted, text) in seen:
            continue
        seen.add((dotted, text))
        problems.append(Problem(dotted, text, _line_for(path, lines, overridden)))
    return problems


def _line_for(path: tuple, lines, overridden) -> int | None:
    if path in overridden:
        return None
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _suggest(path: tuple, data) -> str:
    """'; did you mean X?' from the allowed keys at that place of the JSON Schema."""
    allowed = _allowed_keys(path[:-1], data)
    if not allowed:
        return ""
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return hint + f" (expected one of: {', '.join(sorted(allowed))})"


_SCHEMA: dict | None = None


def json_schema() -> dict:
    """The JSON Schema of a scenario file (for editors: `bootstorm schema`)."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = Scenario.model_json_schema(by_alias=True)
    return _SCHEMA


def _allowed_keys(path: tuple, data) -> list[str]:
    schema = json_schema()
    defs = schema.get("$defs", {})
    node, cur = schema, data

    def resolve(n, value):
        while True:
            if "$ref" in n:
                n = defs[n["$ref"].split("/")[-1]]
                continue
            for key in ("oneOf", "anyOf"):
                if key in n:
                    options = [resolve(o, value) for o in n[key]]
                    options = [o for o in options if o.get("type") != "null"]
                    if isinstance(value, dict) and "kind" in value:
                        for o in options:
                            k = o.get("properties", {}).get("kind", {})
                            if k.get("const") == value["kind"] or value["kind"] in k.get("enum", []):
                                return o
                    return options[0] if len(options) == 1 else {}
            if "allOf" in n and len(n["allOf"]) == 1:
                n = n["allOf"][0]
                continue
            return n

    node = resolve(node, cur)
    for part in path:
        if isinstance(part, int):
            node = resolve(node.get("items", {}), cur[part] if isinstance(cur, list) else None)
            cur = cur[part] if isinstance(cur, list) else None
        else:
            props = node.get("properties")
            value = cur.get(part) if isinstance(cur, dict) else None
            if props and part in props:
                node = resolve(props[part], value)
            elif "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
                node = resolve(node["additionalProperties"], value)
            else:
                return []
            cur = value
    return list(node.get("properties", {}).keys())


def scenario_hash(scenario: Scenario) -> str:
    """A short, stable hash of the validated scenario (what a run was computed from)."""
    canonical = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
