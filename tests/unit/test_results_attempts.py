"""attempts.csv: what AttemptTable.write_csv writes, read_csv reads back exactly."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from sim.errors import InvalidRunFolder
from sim.results.attempts import _FLOAT_COLUMNS, _INT_COLUMNS, MARKS, OUTCOMES, AttemptTable


def _random_table(rng: random.Random, n: int, steps: list[str]) -> AttemptTable:
    t = AttemptTable(steps)
    for i in range(n):
        def maybe():  # a time that may never have happened (NaN), with full float precision
            return math.nan if rng.random() < 0.3 else rng.uniform(0, 1e4)
        t.append(
            instance=i // 3, attempt=i % 3, launch=rng.uniform(0, 100), start=maybe(),
            end=rng.random() * 1e-9, ready_time=maybe(), outcome=rng.choice(OUTCOMES),
            # Text a CSV must quote: commas, quotes, newlines; and empty cells.
            error_class=rng.choice(["", "Throttling", 'odd, "quoted"\nclass']),
            failed_step=rng.choice(["", steps[0] if steps else ""]),
            retries=rng.randrange(50), calls=rng.randrange(2**40),
            step_retries=[rng.randrange(9) for _ in steps],
            marks={m: maybe() for m in MARKS}, cpu_seconds=maybe(),
            findings=rng.choice(["", "secret_exposure;weak_tls"]),
        )
    return t


def _assert_same(a: AttemptTable, b: AttemptTable) -> None:
    assert b.steps == a.steps and len(b) == len(a)
    for name in _FLOAT_COLUMNS:  # bit for bit, NaN where NaN
        np.testing.assert_array_equal(b.column(name), a.column(name), err_msg=name)
        assert b.column(name).dtype == np.float64
    for name in _INT_COLUMNS:
        np.testing.assert_array_equal(b.column(name), a.column(name), err_msg=name)
        assert b.column(name).dtype == np.int64
    np.testing.assert_array_equal(b.step_retries(), a.step_retries())
    for name in ("outcome", "error_class", "failed_step", "findings"):
        assert getattr(b, name) == getattr(a, name), name


@pytest.mark.parametrize("steps", [["imds", "fetch_secret", "register"], []])
@pytest.mark.parametrize("n", [0, 1, 500])
def test_read_csv_gives_back_exactly_what_write_csv_wrote(tmp_path, steps, n):
    table = _random_table(random.Random(n), n, steps)
    path = tmp_path / "attempts.csv"
    table.write_csv(path)
    back = AttemptTable.read_csv(path)
    _assert_same(table, back)
    # A table read back appends like a new one (its columns are the same typed arrays).
    back.append(instance=9, attempt=0, launch=1.0, start=1.0, end=2.0, ready_time=2.0,
                outcome="ready", step_retries=[1] * len(steps))
    assert len(back) == n + 1 and back.column("instance")[-1] == 9
    assert back.step_retries()[-1].tolist() == [1] * len(steps)
    for name in _FLOAT_COLUMNS + _INT_COLUMNS:  # every column grew, marks included
        assert len(back.column(name)) == n + 1, name
    assert math.isnan(back.column("mark_ready")[-1])
    # Written again, the file is the same byte for byte.
    back2 = AttemptTable.read_csv(path)
    back2.write_csv(tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == path.read_bytes()


def test_read_csv_rejects_an_unknown_outcome(tmp_path):
    table = _random_table(random.Random(1), 3, ["a"])
    path = tmp_path / "attempts.csv"
    table.write_csv(path)
    path.write_text(path.read_text().replace(",ready,", ",booted,").replace(",failed,", ",booted,")
                    .replace(",hung,", ",booted,").replace(",unfinished,", ",booted,"))
    with pytest.raises(InvalidRunFolder, match=r"line 2, column 'outcome': expected one of .*'booted'"):
        AttemptTable.read_csv(path)


def test_read_csv_rejects_a_truncated_file_instead_of_shifting_columns(tmp_path):
    table = _random_table(random.Random(2), 5, ["a", "b"])
    path = tmp_path / "attempts.csv"
    table.write_csv(path)
    text = path.read_text()
    path.write_text(text[: text.rstrip("\n").rfind(",")] + "\n")  # the last row lost a cell
    with pytest.raises(InvalidRunFolder, match=r"line \d+: expected 20 cells .*, got 19"):
        AttemptTable.read_csv(path)
