"""Known-answer tests for the exec engine's measurement-validity warnings and harness meter."""

import math
import threading
import time

import pytest

from sim.engines.exec.validity import HarnessMeter, peak_rates, validity_warnings

CAPACITY = {"gate": 2500.0, "moto": 200.0, "imds": 6500.0, "toxiproxy": None}


def warn(cpu=1.0, wall=100.0, cores=2, load=None, capacity=CAPACITY, machine=None):
    return validity_warnings(cpu, wall, cores, load or {}, capacity, machine)


def test_a_healthy_run_has_no_warnings():
    assert warn(cpu=5.0, wall=100.0, load={"gate": 800.0, "moto": 150.0}, machine=1.5) == []


def test_harness_cpu_over_ten_percent_of_a_core():
    (only,) = warn(cpu=12.0, wall=100.0)
    assert only.startswith("the harness used 12% of one core (12.0 CPU s over 100.0 s; target at most 10%)")
    assert warn(cpu=10.0, wall=100.0) == []  # exactly the target is fine


def test_harness_check_is_skipped_without_a_measurement():
    assert warn(cpu=math.nan, wall=100.0) == []
    assert warn(cpu=3.0, wall=0.0) == []


@pytest.mark.parametrize("name,load,flagged", [
    ("moto", 180.0, True),       # 90 %: exactly the limit
    ("moto", 179.0, False),
    ("gate", 2600.0, True),      # past capacity
    ("imds", 1000.0, False),
    ("toxiproxy", 1e6, False),   # capacity unknown: not checked
    ("sinks", 1e6, False),       # no capacity given at all
])
def test_fake_near_capacity(name, load, flagged):
    found = warn(load={name: load})
    assert bool(found) is flagged
    if flagged:
        assert found[0].startswith(f"fake {name!r} peaked at {load:.0f} req/s")
        assert "may have been the bottleneck" in found[0]


def test_nan_capacity_is_unknown():
    assert warn(load={"moto": 500.0}, capacity={"moto": math.nan}) == []


def test_machine_load_above_cores():
    (only,) = warn(machine=2.5, cores=2)
    assert only.startswith("the machine's load average reached 2.50 on 2 core(s)")
    assert warn(machine=2.0, cores=2) == []
    assert warn(machine=None) == []


def test_every_reason_at_once_in_a_stable_order():
    found = warn(cpu=50.0, wall=100.0, load={"moto": 300.0, "gate": 2500.0}, machine=4.0)
    assert [w.split(" ")[0:2] for w in found] == [
        ["the", "harness"], ["fake", "'gate'"], ["fake", "'moto'"], ["the", "machine's"]]


def test_bad_core_count():
    with pytest.raises(ValueError, match="cores must be at least 1, got 0"):
        warn(cores=0)


def test_peak_rates():
    reqs = [{"t": t, "source": "gate"} for t in (0.1, 0.2, 1.1, 1.2, 1.3, 1.9, 5.0)]
    reqs += [{"t": 3.5, "source": "imds"}]
    assert peak_rates(reqs, key="source") == {"gate": 4.0, "imds": 1.0}
    assert peak_rates(reqs, key="source", interval=0.5) == {"gate": 6.0, "imds": 2.0}
    assert peak_rates([]) == {}
    with pytest.raises(ValueError, match="interval must be positive"):
        peak_rates(reqs, interval=0)


def _spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_harness_meter_counts_own_cpu_across_threads():
    with HarnessMeter() as meter:
        worker = threading.Thread(target=_spin, args=(0.2,), name="spinner")
        worker.start()
        _spin(0.1)
        worker.join()
    usage = meter.usage
    # CPU spent is at least what both threads burned, whatever the machine's load.
    assert usage.cpu_seconds >= 0.3 - 0.02
    assert usage.wall_seconds > 0
    assert usage.core_share == pytest.approx(usage.cpu_seconds / usage.wall_seconds)


def test_harness_meter_names_live_threads():
    spun, release = threading.Event(), threading.Event()

    def spin_then_wait():
        _spin(0.2)
        spun.set()
        release.wait(60)  # stay alive so the meter still sees this thread at stop()

    worker = threading.Thread(target=spin_then_wait, name="busy-worker")
    meter = HarnessMeter().start()
    worker.start()
    try:
        assert spun.wait(60)
        usage = meter.stop()
    finally:
        release.set()
        worker.join()
    if not usage.threads:
        pytest.skip("no /proc/self/task on this platform")
    assert usage.threads["busy-worker"] >= 0.2 - 0.02  # /proc counts in clock ticks


def test_harness_meter_excludes_idle_time():
    meter = HarnessMeter().start()
    threading.Event().wait(0.2)  # idle: a blocked wait spends no CPU
    usage = meter.stop()
    assert usage.wall_seconds >= 0.2
    assert usage.cpu_seconds < 0.1


def test_stop_before_start():
    with pytest.raises(RuntimeError, match="before start"):
        HarnessMeter().stop()
