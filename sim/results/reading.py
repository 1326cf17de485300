"""Reading a run folder back, checked: a missing, truncated or hand-edited file is bad input.

``bootstorm report`` and ``bootstorm compare`` read folders people copy, edit and archive. Every
problem found here is an ``InvalidRunFolder`` naming the file, the row and column (CSV) or the
field (JSON), what was expected and what was given; nothing here raises a bare ``KeyError`` or
``ValueError`` that would surface as a harness failure.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

from sim.errors import InvalidRunFolder

__all__ = ["read_json", "check_fields", "csv_cell_error", "read_rows", "WRITTEN_BY"]

WRITTEN_BY = "a run folder written by `bootstorm run`"


def _missing(path: Path) -> InvalidRunFolder:
    return InvalidRunFolder(f"{path}: missing file; expected {WRITTEN_BY} (it has run.json, "
                            "scenario.json, faults.json, attempts.csv, dependencies/)")


def read_json(path: Path, expected: type, what: str):
    """The JSON document in ``path``, which must be a ``expected`` (dict or list)."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidRunFolder(f"{path}: not UTF-8 text (byte {exc.start}); expected {what} "
                               "as JSON") from None
    except json.JSONDecodeError as exc:
        raise InvalidRunFolder(f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON "
                               f"({exc.msg}); expected {what}") from None
    if not isinstance(data, expected):
        raise InvalidRunFolder(f"{path}: expected {what} (a JSON "
                               f"{'object' if expected is dict else 'array'}), got "
                               f"{_json_type(data)}")
    return data


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def check_fields(path: Path, data: dict, cls, where: str = ""):
    """``cls(**data)`` for a dataclass ``cls``, each field checked against its annotation
    (``float``, ``int``, ``str``, ``bool``, ``dict``, ``list``, ``X | None``). JSON writes a
    non-finite float as null: a float field reads null back as NaN."""
    prefix = f"{where}." if where else ""
    if not isinstance(data, dict):
        raise InvalidRunFolder(f"{path}: {where or '(top level)'}: expected an object, got "
                               f"{_json_type(data)}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for name, f in known.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in data:
            if required:
                raise InvalidRunFolder(f"{path}: {prefix}{name}: missing field; expected "
                                       f"{_expected(f.type)}")
            continue
        values[name] = _checked(path, f"{prefix}{name}", data[name], str(f.type))
    return cls(**values)  # unknown fields (a newer writer's) are left out


def _expected(annotation: str) -> str:
    words = {"float": "a number", "int": "an integer", "str": "a string", "bool": "true or false",
             "dict": "an object", "list": "an array", "None": "null"}
    parts = [p.strip().split("[")[0] for p in str(annotation).split("|")]
    return " or ".join(words.get(p, p) for p in parts)


def _checked(path: Path, field: str, value, annotation: str):
    kinds = [p.strip().split("[")[0] for p in annotation.split("|")]
    if value is None:
        if "None" in kinds:
            return None
        if "float" in kinds:
            return math.nan
    elif isinstance(value, bool):
        if "bool" in kinds:
            return value
    elif isinstance(value, int) and "int" in kinds:
        return value
    elif isinstance(value, (int, float)) and "float" in kinds:
        return float(value)
    elif isinstance(value, str) and ("str" in kinds or "float" in kinds and value in ("inf", "-inf")):
        return value if "str" in kinds else float(value)
    elif isinstance(value, dict) and "dict" in kinds:
        return value
    elif isinstance(value, list) and "list" in kinds:
        if "list[str]" in annotation and not all(isinstance(v, str) for v in value):
            bad = next(v for v in value if not isinstance(v, str))
            raise InvalidRunFolder(f"{path}: {field}: expected an array of strings, got "
                                   f"{json.dumps(bad)[:60]} in it")
        return value
    raise InvalidRunFolder(f"{path}: {field}: expected {_expected(annotation)}, got "
                           f"{json.dumps(value)[:60]}")


def csv_cell_error(path: Path, line: int, column: str, expected: str, given: str
                   ) -> InvalidRunFolder:
    return InvalidRunFolder(f"{path}: line {line}, column {column!r}: expected {expected}, got "
                            f"{given!r}")


def read_rows(path: Path, required: list[str] | tuple[str, ...], what: str):
    """(header, rows with their line numbers) of a CSV file whose header has ``required``
    columns and whose every row has as many cells as the header."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise InvalidRunFolder(f"{path}: empty file; expected {what}: a header row "
                                       f"({', '.join(required[:4])}, ...) and one row a record")
            missing = [c for c in required if c not in header]
            if missing:
                raise InvalidRunFolder(f"{path}: line 1: missing column(s) "
                                       f"{', '.join(map(repr, missing))}; expected {what} "
                                       f"with columns {', '.join(required)}")
            rows = []
            for row in reader:
                if len(row) != len(header):
                    raise InvalidRunFolder(
                        f"{path}: line {reader.line_num}: expected {len(header)} cells (the "
                        f"header's columns), got {len(row)}; the file is truncated or edited")
                rows.append((reader.line_num, row))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidRunFolder(f"{path}: unreadable as CSV ({exc}); expected {what}") from None
    return header, rows
