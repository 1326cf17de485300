"""Pydantic's validation errors turned into problems a scenario author can act on.

Each problem gets the dotted field path as the file spells it (no union tags), the line where
the parser saw it, plain wording ("expected an integer; got 'many'"), a "did you mean" from the
JSON Schema for unknown fields, and the ``--set`` it came from when it did.
"""

from __future__ import annotations

import difflib
import json
import re

from pydantic import ValidationError

from sim.errors import Problem
from sim.scenario.model import Scenario

__all__ = ["problems_from", "json_schema", "dotted", "line_for", "describe_value"]


def dotted(path) -> str:
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


def describe_value(value) -> str:
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


def problems_from(exc: ValidationError, data, lines, overridden) -> list[Problem]:
    # (where the problem is, what it is, the part of the data the check looked at)
    found: list[tuple[tuple, str, tuple]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        path = _display_path(loc, data)
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        kind = err["type"]
        if path and path[-1] == "[key]":
            path = path[:-1]
            found.append((path, f"expected a name (text), got {describe_value(path[-1])}; quote it in YAML",
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
                text += f"; got {describe_value(err['input'])}"
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
            problems.append(Problem(dotted(path), f"{text} (value from --set {origin})", None))
            continue
        # An override in the part of the data the check looked at may be the cause (a new
        # `kind` that does not take a sibling field, a size the steps no longer add up to).
        related = [item for key, item in overridden.items() if scope and key[: len(scope)] == scope]
        if related:
            text += f" (after --set {', --set '.join(related)})"
        problems.append(Problem(dotted(path), text, line_for(path, lines)))
    return problems


def _override_of(path: tuple, overridden: dict[tuple, str]) -> str | None:
    """The --set item that wrote ``path`` or a mapping or list around it, if any."""
    for n in range(len(path), 0, -1):
        if path[:n] in overridden:
            return overridden[path[:n]]
    return None


def line_for(path: tuple, lines) -> int | None:
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
                    if isinstance(value, dict):  # an SLO is a string or a mapping: the mapping
                        options = [o for o in options if "properties" in o] or options
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

