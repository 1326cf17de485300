"""A corrupt or hand-edited run folder read back by ``bootstorm report`` and ``compare``:
a clear message (file, line/column or field, expected, given), exit 2, no traceback, and
nothing half-written. Each case runs the real CLI (``python -m sim.cli``) in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.report import REPORT_FILES, write_report
from test_report_files import small_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A good run folder with its report (no plots: the cases are about reading)."""
    folder = tmp_path_factory.mktemp("good") / "run"
    run = small_run()
    run.write(folder)
    write_report(run, folder, plots=False)
    return folder


@pytest.fixture
def folder(pristine, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(pristine, copy)
    return copy


def cli(*argv, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim.cli", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def _edit_csv(path: Path, line: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def _drop_column(path: Path, column: str) -> None:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    k = rows[0].index(column)
    path.write_text("\n".join(",".join(r[:k] + r[k + 1:]) for r in rows) + "\n")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(data.splitlines()[-1]) // 2 - 1])


def _json_edit(name: str, change):
    def edit(folder: Path) -> None:
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data))
    return edit


CASES = {
    "truncated attempts.csv": (lambda f: _truncate(f / "attempts.csv"),
                               ["attempts.csv", "line 31", "expected 20 cells", "truncated"]),
    "missing column": (lambda f: _drop_column(f / "attempts.csv", "retries"),
                       ["attempts.csv", "missing column(s) 'retries'"]),
    "non-number in a numeric column": (
        lambda f: _edit_csv(f / "attempts.csv", 4, "launch", "soon"),
        ["attempts.csv", "line 4, column 'launch'", "expected a number", "'soon'"]),
    "non-integer retries": (lambda f: _edit_csv(f / "attempts.csv", 7, "retries", "2.5"),
                            ["line 7, column 'retries'", "expected an integer", "'2.5'"]),
    "unknown outcome": (lambda f: _edit_csv(f / "attempts.csv", 2, "outcome", "exploded"),
                        ["line 2, column 'outcome'", "one of ready, failed", "'exploded'"]),
    "empty attempts.csv": (lambda f: (f / "attempts.csv").write_text(""),
                           ["attempts.csv", "empty file", "header row"]),
    "missing attempts.csv": (lambda f: (f / "attempts.csv").unlink(),
                             ["attempts.csv", "missing file"]),
    "garbled run.json": (lambda f: (f / "run.json").write_text('{"engine": "sim",\n  "seed": }'),
                         ["run.json", "line 2 column", "invalid JSON"]),
    "meta field of the wrong type": (_json_edit("run.json", lambda d: d.update(horizon="soon")),
                                     ["run.json", "horizon", "expected a number", '"soon"']),
    "time_scale of 0": (_json_edit("run.json", lambda d: d.update(time_scale=0)),
                        ["run.json", "time_scale: expected a number > 0", "got 0"]),
    "meta field missing": (_json_edit("run.json", lambda d: d.pop("seed")),
                           ["run.json", "seed: missing field", "an integer"]),
    "fault of the wrong shape": (_json_edit("faults.json", lambda d: d[0].update(kind=3)),
                                 ["faults.json", "[0].kind", "expected a string", "3"]),
    "bad SLO in scenario.json": (
        _json_edit("scenario.json", lambda d: d.update(slos=["fast enough"])),
        ["scenario.json", "slos.0", "'fast enough'"]),
    "non-integer in a dependency series": (
        lambda f: _edit_csv(f / "dependencies" / "sts.csv", 3, "served", "x"),
        ["sts.csv", "line 3, column 'served'", "expected an integer", "'x'"]),
    "corrupt latency histogram": (
        lambda f: (f / "dependencies" / "sts.latency.npz").write_bytes(b"not a zip"),
        ["sts.latency.npz", "unreadable", "latency histogram"]),
    "histogram of the wrong shape": (
        lambda f: np.savez_compressed(f / "dependencies" / "sts.latency.npz",
                                      latency_hist=np.zeros((2, 3), np.int64)),
        ["sts.latency.npz", "shape (60,", "(2, 3)"]),
    "bad capacity.json": (lambda f: (f / "dependencies" / "capacity.json").write_text('{"sts": "lots"}'),
                          ["capacity.json", "sts: expected a number", '"lots"']),
}


def _report_state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()
            if p.name in REPORT_FILES or p.name.startswith(".report-")}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_report_of_a_corrupt_folder_says_where_and_exits_2(case, folder, tmp_path):
    corrupt, expected = CASES[case]
    corrupt(folder)
    before = _report_state(folder)
    done = cli("report", folder, "--no-plots", cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith("error: "), done.stderr
    for text in expected:
        assert text in done.stderr, (text, done.stderr)
    assert _report_state(folder) == before  # nothing rewritten, no staging folder left


def test_a_failure_while_writing_leaves_the_old_report(pristine, tmp_path, monkeypatch):
    """The files are staged: a report that fails half-way (here: report.md, the last file
    rendered) leaves every old file as it was and no staging folder behind."""
    import sim.report.writer as writer

    folder = tmp_path / "run"
    shutil.copytree(pristine, folder)
    before = _report_state(folder)

    def broken(*_args, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "render_markdown", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(small_run(slos=[]), folder, plots=False)  # a different summary.json
    assert _report_state(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".report-")]


COMPARE_CASES = {
    "a metric that is not a number": (
        _json_edit("summary.json", lambda d: d["metrics"].update({"time_to_ready.p95": "fast"})),
        ["summary.json", "metrics.time_to_ready.p95", "expected a number", '"fast"']),
    "garbled summary.json": (lambda f: (f / "summary.json").write_text("{\n\n  oops"),
                             ["summary.json", "line 3 column 3", "invalid JSON"]),
    "verdicts of the wrong type": (_json_edit("summary.json", lambda d: d.update(verdicts={})),
                                   ["summary.json", "verdicts: expected an array", "{}"]),
    "a non-number in attempts.csv": (
        lambda f: _edit_csv(f / "attempts.csv", 5, "ready_time", "later"),
        ["attempts.csv", "line 5, column 'ready_time'", "'later'"]),
    "missing summary.json": (lambda f: (f / "summary.json").unlink(),
                             ["summary.json", "not a run folder"]),
}


@pytest.mark.parametrize("case", COMPARE_CASES, ids=list(COMPARE_CASES))
def test_compare_of_a_corrupt_folder_says_where_and_exits_2(case, pristine, folder, tmp_path):
    corrupt, expected = COMPARE_CASES[case]
    corrupt(folder)
    out = tmp_path / "cmp"
    done = cli("compare", pristine, folder, "--write", out, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    for text in expected:
        assert text in done.stderr, (text, done.stderr)
    assert not out.exists()  # nothing written for a comparison that could not be made
