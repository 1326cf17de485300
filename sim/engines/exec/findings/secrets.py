"""Finding planted secrets in what a bootstrap left behind, without ever showing them.

Needles are every form a value may take in a log or a file (raw, URL-encoded, base64 at each
alignment, the string fields of a JSON secret); streams and files are read in blocks with an
overlap so a value split across two blocks is still found; files are opened without following
links, so nothing outside the instance root is read.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import quote, quote_plus

__all__ = ["needles", "scan_stream", "exposed_files", "describe", "scrub"]


def _b64_cores(raw: bytes) -> list[tuple[bytes, str]]:
    # The base64 characters fixed by the value alone, for each alignment inside a larger blob.
    out = []
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw)
        core = enc[-(-offset * 8 // 6) : (offset + len(raw)) * 8 // 6]
        out.append((core, "base64"))
        out.append((core.replace(b"+", b"-").replace(b"/", b"_"), "base64url"))
    return out


def _with_json_fields(planted: Mapping[str, str]) -> list[tuple[str, str]]:
    # A JSON secret ({"password": ...}) is usually printed a field at a time, not whole.
    out = []
    for key, value in planted.items():
        out.append((key, value))
        try:
            doc = json.loads(value) if value.lstrip().startswith("{") else None
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            out += [(f"{key}.{name}", text) for name, text in doc.items() if isinstance(text, str)]
    return out


def needles(planted: Mapping[str, str], min_length: int) -> list[tuple[bytes, str, str]]:
    """(needle, secret key, encoding) for every planted value long enough to search for."""
    out: dict[bytes, tuple[str, str]] = {}
    for key, value in _with_json_fields(planted):
        if len(value) < min_length:
            continue
        raw = value.encode()
        forms = [(raw, "raw"), (quote(value, safe="").encode(), "url-encoded"),
                 (quote_plus(value, safe="").encode(), "url-encoded")] + _b64_cores(raw)
        for needle, how in forms:
            out.setdefault(needle, (key, how))
    return [(needle, key, how) for needle, (key, how) in out.items()]


def _scan(fh, needles: list[tuple[bytes, str, str]], chunk: int) -> dict[str, str]:
    """Secret key -> encoding found, reading ``fh`` in blocks with an overlap between them."""
    keep = max(len(n) for n, _, _ in needles) - 1
    keys = {key for _, key, _ in needles}
    found: dict[str, str] = {}
    tail = b""
    while len(found) < len(keys):
        block = fh.read(chunk)
        if not block:
            break
        buf = tail + block
        for needle, key, how in needles:
            if key not in found and needle in buf:
                found[key] = how
        tail = buf[-keep:] if keep else b""
    return found


def describe(found: dict[str, str]) -> str:
    return ", ".join(f"secret {key!r} ({how})" for key, how in sorted(found.items()))


def scan_stream(path: Path | None, needles, chunk: int) -> dict[str, str]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            return _scan(fh, needles, chunk)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return {}


def _open_regular(path: str):
    # O_NOFOLLOW and fstat close the race where a file is swapped for a link or a FIFO.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def exposed_files(root: Path, needles, chunk: int) -> Iterable[tuple[str, int, dict[str, str]]]:
    """(relative path, mode, found) for group/other-readable regular files holding a secret."""
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
                continue
            fh = _open_regular(path)
            if fh is None:
                continue
            with fh:
                found = _scan(fh, needles, chunk)
            if found:
                yield os.path.relpath(path, root), stat.S_IMODE(st.st_mode), found


def scrub(text: str, needles) -> str:
    for needle, _, _ in needles:
        text = text.replace(needle.decode("utf-8", "replace"), "<redacted>")
    return text
