"""The vectorised fleet metrics agree with a plain Python reference on random tables."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.metrics import attempt_metrics, time_to_drain, time_to_ready
from sim.results import AttemptTable, DependencySeries

attempt_rows = st.lists(
    st.tuples(
        st.integers(0, 6),  # instance
        st.integers(1, 3),  # attempt
        st.floats(0, 100, allow_nan=False),  # launch
        st.sampled_from(["ready", "failed", "hung", "unfinished"]),
        st.floats(0.5, 50, allow_nan=False),  # boot duration
        st.integers(0, 5),  # retries
    ),
    max_size=25,
)


def build(rows):
    table = AttemptTable([])
    for instance, attempt, launch, outcome, took, retries in rows:
        ready = launch + took if outcome == "ready" else math.nan
        table.append(instance=instance, attempt=attempt, launch=launch, start=launch + 1,
                     end=launch + took, ready_time=ready, outcome=outcome, retries=retries)
    return table


def reference(rows):
    by_instance = {}
    for row in rows:
        by_instance.setdefault(row[0], []).append(row)
    times = []
    for attempts in by_instance.values():
        first = min(attempts, key=lambda r: (r[1], r[2]))
        ready = [r[2] + r[4] for r in attempts if r[3] == "ready"]
        if ready:
            times.append(min(ready) - first[2])
    return by_instance, sorted(times)


@settings(max_examples=150, deadline=None)
@given(attempt_rows)
def test_matches_reference(rows):
    table = build(rows)
    by_instance, times = reference(rows)
    assert sorted(time_to_ready(table)) == times
    m = attempt_metrics(table, sim_end=200)
    if not rows:
        assert math.isnan(m["bootstrap_success_rate"])
        return
    assert m["bootstrap_success_rate"] == len(times) / len(by_instance)
    assert m["attempts_per_instance.max"] == max(len(a) for a in by_instance.values())
    errors = sum(r[3] in ("failed", "hung") for r in rows)
    assert m["bootstrap_error_rate"] == pytest.approx(1000 * errors / len(rows))
    if times:
        assert m["time_to_ready_of_ready.max"] == max(times)
        assert m["time_to_ready_of_ready.p50"] == np.percentile(times, 50)
    never = len(by_instance) - len(times)
    assert (m["time_to_ready.max"] == math.inf) == (never > 0)
    if not never:
        assert m["time_to_ready.p50"] == np.percentile(times, 50)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40), st.floats(0, 39.9, allow_nan=False))
def test_drain_matches_reference(dirty, fault_end):
    s = DependencySeries.empty("x", 1.0, len(dirty))
    s.counts["needed"][:] = 10
    s.counts["offered"][:] = 10
    s.counts["throttled"][:] = np.array(dirty, dtype=np.int64)
    drained = time_to_drain(s, fault_end)
    first = int(fault_end)
    if first >= len(dirty):
        assert math.isnan(drained)
        return
    clean_from = next((i for i in range(first, len(dirty) + 1) if not any(dirty[i:])), None)
    if clean_from == len(dirty):  # the last interval is dirty: not drained within the run
        # "never" once a whole interval after the fault was watched; else not measured.
        watched = len(dirty) - math.ceil(fault_end)
        assert drained == math.inf if watched >= 1 else math.isnan(drained)
    else:
        assert drained == max(0.0, clean_from - fault_end)
