"""Load a scenario file: YAML -> overrides -> validated Scenario, or every problem at once.

Every problem names the file, the field path (``fleet.arrival.over``), the line where the
parser knows it, what was expected and what was given. Nothing runs on a scenario that has a
problem.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
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
        got = "a list" if isinstance(data, list) else f"{_got(data)} ({type(data).__name__})"
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
        problems += _problems(exc, data, lines, overridden)
    if problems:
        raise InvalidScenario(file, problems)
    return scenario


def apply_override(data: dict, item: str) -> tuple:
    """Set ``a.b.0.c=value`` in ``data`` (value parsed as YAML); returns the key path."""
    if "=" not in item:
        raise InvalidArgument(f"--set expects PATH=VALUE (e.g. fleet.size=500), got {item!r}")
    dotted, raw = item.split("=", 1)
    dotted = dotted.strip()
    keys = dotted.split(".")
    if not dotted or any(k == "" for k in keys):
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
                f"--set {item}: {_dotted(path)} holds {_got(cur)}, not a mapping or list, so it "
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
            recursive.append(Problem(_dotted(path), "an alias refers to the anchor it is inside "
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
                        _dotted(path + (key,)),
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


def _dotted(path) -> str:
    return ".".join(map(str, path))


def _display_path(loc: tuple, data) -> tuple:
    """The loc as keys of the data: without pydantic's union tags ('lognormal', 'str'), which
    are not keys, and with an unknown key kept as the last part."""
    out: list = []
    cur = data
    tag_skipped = None
    for part in loc:
        if isinstance(cur, dict):
            # A discriminated union puts the tag in the loc once, before the variant's fields;
            # check it first, since a field may share the tag's name (kind: latency, latency: 1s).
            if part == cur.get("kind") and tag_skipped is not cur:
                tag_skipped = cur
                continue
            out.append(part)
            if part not in cur:
                break
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int):
            out.append(part)
            if not 0 <= part < len(cur):
                break
            cur = cur[part]
        elif part == "[key]":
            out.append(part)
            break
        else:
            # A union tag over a scalar or a list ('str', 'float', 'constant'): the value is the
            # place to point at.
            if isinstance(cur, list):
                continue
            break
    return tuple(out)


def _got(value) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


def _value_at(data, path: tuple):
    cur = data
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            raise KeyError(part)
    return cur


def _exists(data, path: tuple) -> bool:
    try:
        _value_at(data, path)
    except KeyError:
        return False
    return True


def _keys(field: str) -> tuple:
    return tuple(int(p) if p.lstrip("-").isdigit() else p for p in field.split("."))


def _value_problems(msg: str, path: tuple, data) -> list[tuple[tuple, str, tuple]]:
    """A model validator's message as (path, text) pairs. Validators that check several fields
    write one ``field.path: text`` line per problem, relative to the model they check; a message
    that starts with a field's name points at that field."""
    out = []
    for text in msg.split("\n"):
        field, sep, rest = text.partition(": ")
        if sep and _FIELD.fullmatch(field) and _exists(data, path + _keys(field)):
            out.append((path + _keys(field), rest, path))
            continue
        first = text.split(" ", 1)[0]
        if _FIELD.fullmatch(first) and not first.isdigit() and _exists(data, path + _keys(first)):
            out.append((path + _keys(first), text, path))
            continue
        out.append((path, text, path))
    return out


def _problems(exc: ValidationError, data, lines, overridden) -> list[Problem]:
    # (where the problem is, what it is, the part of the data the check looked at)
    found: list[tuple[tuple, str, tuple]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        path = _display_path(loc, data)
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        kind = err["type"]
        if path and path[-1] == "[key]":
            path = path[:-1]
            found.append((path, f"expected a name (text), got {_got(path[-1])}; quote it in YAML",
                          path))
            continue
        if kind in ("value_error", "assertion_error"):
            found.extend(_value_problems(msg, path, data))
            continue
        if kind == "missing":
            text = "required field is missing"
        elif kind == "extra_forbidden":
            text = f"unknown field {path[-1]!r}" + _suggest(path, data)
        elif kind == "union_tag_invalid":
            text = msg.replace("Input tag", "kind").replace(
                "found using 'kind' does not match any of the expected tags:", "is not one of")
        elif kind == "union_tag_not_found":
            text = "needs a `kind` field saying which variant this is"
        else:
            text = _plain(msg)
            if "input" in err and not re.search(r", got \d+$", text):
                text += f"; got {_got(err['input'])}"
        found.append((path, text, path[:-1] if len(path) > 1 else path))
    return _merge(found, lines, overridden)


_WORDING = [  # pydantic's wording -> the words a scenario author uses
    (re.compile(r"^Input should be "), "expected "),
    (re.compile(r"a valid dictionary( or instance of \w+)?"), "a mapping"),
    (re.compile(r"a valid list"), "a list"),
    (re.compile(r"a valid integer, unable to parse string as an integer"), "an integer"),
    (re.compile(r"a valid integer, got a number with a fractional part"), "a whole number"),
    (re.compile(r"a valid integer"), "an integer"),
    (re.compile(r"a valid (string|number|boolean)"), r"a \1"),
    (re.compile(r"greater than or equal to"), "a value >="),
    (re.compile(r"less than or equal to"), "a value <="),
    (re.compile(r"(greater|less) than"), lambda m: "a value " + (">" if m[1] == "greater" else "<")),
    (re.compile(r"^\w+ should have at least (\d+) items? after validation, not (\d+)$"),
     r"expected at least \1 item(s), got \2"),
    (re.compile(r"^\w+ should have at most (\d+) items? after validation, not (\d+)$"),
     r"expected at most \1 item(s), got \2"),
]


def _plain(msg: str) -> str:
    for pattern, replacement in _WORDING:
        msg = pattern.sub(replacement, msg)
    return msg


def _merge(found: list[tuple[tuple, str, tuple]], lines, overridden) -> list[Problem]:
    """One problem per place and text (a value that fits no member of a union gets one
    'expected A or B; got X'), each with its line, or with the --set it came from."""
    merged: list[list] = []
    for path, text, scope in found:
        same_place = [m for m in merged if m[0] == path]
        if any(m[1] == text for m in same_place):
            continue
        prev = merged[-1] if merged else None
        head, sep, got = prev[1].rpartition("; got ") if prev else ("", "", "")
        if prev and prev[0] == path and sep and text.startswith("expected ") \
                and text.endswith("; got " + got):
            prev[1] = f"{head} or {text.rpartition('; got ')[0].removeprefix('expected ')}; got {got}"
            continue
        merged.append([path, text, scope])
    problems: list[Problem] = []
    for path, text, scope in merged:
        origin = _override_of(path, overridden)
        if origin is not None:
            problems.append(Problem(_dotted(path), f"{text} (value from --set {origin})", None))
            continue
        # An override in the part of the data the check looked at may be the cause (a new
        # `kind` that does not take a sibling field, a size the steps no longer add up to).
        related = [item for key, item in overridden.items() if scope and key[: len(scope)] == scope]
        if related:
            text += f" (after --set {', --set '.join(related)})"
        problems.append(Problem(_dotted(path), text, _line_for(path, lines)))
    return problems


def _override_of(path: tuple, overridden: dict[tuple, str]) -> str | None:
    """The --set item that wrote ``path`` or a mapping or list around it, if any."""
    for n in range(len(path), 0, -1):
        if path[:n] in overridden:
            return overridden[path[:n]]
    return None


def _line_for(path: tuple, lines) -> int | None:
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
