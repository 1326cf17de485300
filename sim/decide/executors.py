"""Where the runs of a sweep execute: a local process pool, or an existing Dask cluster.

Both are a ``concurrent.futures.Executor``; the sweep, the plan and the comparison only use
``submit`` and ``as_completed``, so the back end is this one choice::

    with open_executor()                         -> ProcessPoolExecutor(all cores)
    with open_executor(workers=1)                -> one worker process
    with open_executor(cluster="tcp://h:8786")   -> distributed.Client(h).get_executor()

The Dask workers must be able to ``import sim`` (install bootstorm on them); the scenario
travels as text, so they need not see the caller's files.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator

from sim.errors import InvalidArgument, RunFailed

__all__ = ["open_executor", "default_workers"]

CONNECT_TIMEOUT = 10.0


def default_workers() -> int:
    """The cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def open_executor(cluster: str | None = None, workers: int | None = None) -> Iterator[Executor]:
    """An executor for run tasks; shut down (pending tasks cancelled) on the way out."""
    if workers is not None and workers < 1:
        raise InvalidArgument(f"--workers: expected an integer >= 1, got {workers}")
    if cluster:
        with _dask_executor(cluster) as executor:
            yield executor
        return
    # spawn: a fresh interpreter per worker, never a fork of a process holding threads
    # (a progress bar, a Dask client, pytest's own).
    pool = ProcessPoolExecutor(max_workers=workers or default_workers(),
                               mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _dask_executor(address: str) -> Iterator[Executor]:
    try:
        from distributed import Client
    except ImportError:
        raise InvalidArgument(
            f"--cluster {address}: the Dask back end is an optional extra; install it with "
            "pip install 'bootstorm[cluster]'"
        ) from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InvalidArgument(
            f"--cluster {address}: no Dask scheduler answered there ({exc}); expected the "
            "address of a running scheduler, e.g. tcp://127.0.0.1:8786"
        ) from None
    try:
        if not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except TimeoutError:
                raise RunFailed(f"--cluster {address}: the scheduler has no workers") from None
        yield client.get_executor()
    finally:
        client.close()
