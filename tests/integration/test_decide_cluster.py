"""Sweeps and plans on a real Dask cluster on loopback, through the real CLI (--cluster)."""

import os

import pyarrow.parquet as pq
import pytest

from _decide_helpers import FAST, STORM, bootstorm, cli_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    # The workers are new processes: they import sim from this tree.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = cli_env()["PYTHONPATH"]
    try:
        with LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            yield cluster
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def _points(folder):
    rows = pq.read_table(next(folder.glob("*/sweep.parquet"))).to_pylist()
    return {r["fleet.size"]: r for r in rows if r["row"] == "point"}


def test_a_sweep_on_the_cluster_equals_the_same_sweep_on_the_local_pool(dask_cluster, tmp_path):
    address = dask_cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    argv = ["sweep", STORM, *FAST, "--vary", "fleet.size=100,1000", "--seeds", "2", "--no-plots"]
    on_cluster = bootstorm(*argv, "--cluster", address, "--out", tmp_path / "dask", cwd=tmp_path)
    assert on_cluster.returncode == 0, on_cluster.stderr
    assert "4 run now" in on_cluster.stdout
    # The scheduler ran them: its workers executed run_task
    prefixes = dask_cluster.scheduler.task_prefixes
    assert "run_task" in prefixes and sum(prefixes["run_task"].state_counts.values()) >= 4
    local = bootstorm(*argv, "--workers", "2", "--out", tmp_path / "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    a, b = _points(tmp_path / "dask"), _points(tmp_path / "local")
    for size in (100, 1000):  # a seed fixes a run, wherever it runs
        assert a[size]["time_to_ready.p95"] == b[size]["time_to_ready.p95"]
        assert a[size]["slo:all"] == b[size]["slo:all"]


def test_a_plan_on_the_cluster(dask_cluster, tmp_path):
    done = bootstorm("plan", STORM, *FAST, "--find", "max", "fleet.size", "--within", "100..1000",
                     "--seeds", "2", "--tolerance", "100", "--cluster",
                     dask_cluster.scheduler_address, "--out", tmp_path, "--no-plots", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "max fleet.size = " in done.stdout and "binding SLO" in done.stdout


def test_no_scheduler_at_the_address_exits_2(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = bootstorm("sweep", STORM, "--vary", "fleet.size=100,200", "--cluster",
                     f"tcp://127.0.0.1:{port}", "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"--cluster tcp://127.0.0.1:{port}: no Dask scheduler answered there" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_compare_of_two_variants_on_the_cluster(dask_cluster, tmp_path):
    import json

    done = bootstorm("compare", STORM, *FAST, "--set", "fleet.size=1000", "--baseline", "",
                     "--candidate", "--set dependencies.ssm.operations.GetParameter.quota.rate=1000",
                     "--seeds", "2", "--cluster", dask_cluster.scheduler_address, "--json",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["metrics"]["dependencies.ssm.throttled_share"]["candidate"] < \
        data["metrics"]["dependencies.ssm.throttled_share"]["baseline"]
    assert data["time_to_ready_tests"]["n_a"] > 0 and data["time_to_ready_tests"]["n_b"] > 0
