"""Known-answer tests for the exec engine's findings, on hand-built evidence and temp files."""

import base64
import math
import os
import random
from urllib.parse import quote

import pytest

from sim.engines.exec.findings import (
    FINDING_NAMES,
    AttemptEvidence,
    Finding,
    FindingConfig,
    SecondRun,
    attempt_findings,
    fleet_findings,
    findings_column,
    requests_from_log,
)

SECRET = "s3cr3t-Value/with+chars=42"
PLANTED = {"db_password": SECRET}


def evidence(tmp_path, **kw):
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    base = dict(instance_id="i-0001", attempt=1, root=root, stdout=tmp_path / "out.log",
                stderr=tmp_path / "err.log", start=0.0, end=10.0, cpu_seconds=0.1, outcome="ready")
    base.update(kw)
    for stream in ("stdout", "stderr"):
        if base[stream] is not None and not base[stream].exists():
            base[stream].write_bytes(b"")
    return AttemptEvidence(**base)


def names(findings):
    return [f.name for f in findings]


def assert_no_secret(findings, value=SECRET):
    encoded = [value, quote(value, safe=""), base64.b64encode(value.encode()).decode()[:-4]]
    for f in findings:
        for form in encoded:
            assert form not in f.detail, f"{f.detail!r} leaks the secret"


def write(path, data, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)


# -- secret_exposure ---------------------------------------------------------------------


def test_secret_in_stdout(tmp_path):
    ev = evidence(tmp_path)
    ev.stdout.write_bytes(b"fetched secret: " + SECRET.encode() + b"\nstarting app\n")
    found = attempt_findings(ev, PLANTED)
    assert [(f.name, f.detail) for f in found] == [
        ("secret_exposure", "stdout: secret 'db_password' (raw)")]
    assert_no_secret(found)
    assert findings_column(found) == "secret_exposure"


def test_secret_in_stderr_url_and_base64_encoded(tmp_path):
    ev = evidence(tmp_path)
    ev.stderr.write_bytes(b"curl https://x/?p=" + quote(SECRET, safe="").encode() + b"\n")
    ev.stdout.write_bytes(b"blob " + base64.b64encode(b"xy" + SECRET.encode() + b"tail") + b"\n")
    details = sorted(f.detail for f in attempt_findings(ev, PLANTED))
    assert details == ["stderr: secret 'db_password' (url-encoded)",
                       "stdout: secret 'db_password' (base64)"]


def test_a_field_of_a_json_secret(tmp_path):
    ev = evidence(tmp_path)
    ev.stdout.write_bytes(b"connecting as admin with pw0-Long-Enough\n")
    planted = {"db": '{"user": "admin", "password": "pw0-Long-Enough", "port": 5432}'}
    found = attempt_findings(ev, planted)
    assert [f.detail for f in found] == ["stdout: secret 'db.password' (raw)"]
    assert_no_secret(found, "pw0-Long-Enough")


@pytest.mark.parametrize("split", range(1, len(SECRET)))
def test_secret_split_across_chunk_boundary(tmp_path, split):
    chunk = 64
    ev = evidence(tmp_path)
    # The value starts `split` bytes before the end of the first block.
    ev.stdout.write_bytes(b"x" * (chunk - split) + SECRET.encode() + b"y" * 100)
    cfg = FindingConfig(chunk_bytes=chunk)
    assert names(attempt_findings(ev, PLANTED, cfg)) == ["secret_exposure"]


def test_secret_found_far_into_a_large_stream(tmp_path):
    ev = evidence(tmp_path)
    with open(ev.stdout, "wb") as fh:
        for _ in range(40):
            fh.write(b"noise line\n" * 10_000)
        fh.write(SECRET.encode())
    found = attempt_findings(ev, PLANTED, FindingConfig(chunk_bytes=4096))
    assert names(found) == ["secret_exposure"]


def test_world_readable_file_is_exposure_owner_only_file_is_not(tmp_path):
    ev = evidence(tmp_path)
    write(ev.root / "data" / "secret.txt", SECRET.encode(), 0o644)
    write(ev.root / "data" / "private.txt", SECRET.encode(), 0o600)
    write(ev.root / "etc" / "group.env", b"PW=" + SECRET.encode(), 0o640)
    write(ev.root / "etc" / "clean.txt", b"nothing here", 0o644)
    found = attempt_findings(ev, PLANTED)
    assert sorted(f.detail for f in found) == [
        "file data/secret.txt (mode 0644): secret 'db_password' (raw)",
        "file etc/group.env (mode 0640): secret 'db_password' (raw)",
    ]
    assert_no_secret(found)


def test_symlink_out_of_root_is_ignored(tmp_path):
    outside = tmp_path / "outside"
    write(outside / "leak.txt", SECRET.encode(), 0o644)
    ev = evidence(tmp_path)
    os.symlink(outside / "leak.txt", ev.root / "link.txt")
    os.symlink(outside, ev.root / "linkdir")
    assert attempt_findings(ev, PLANTED) == []
    write(ev.root / "real.txt", SECRET.encode(), 0o644)  # the scan does run: a real file counts
    assert [f.detail for f in attempt_findings(ev, PLANTED)] == [
        "file real.txt (mode 0644): secret 'db_password' (raw)"]


def test_fifo_in_root_does_not_block(tmp_path):
    ev = evidence(tmp_path)
    os.mkfifo(ev.root / "pipe", 0o666)
    assert attempt_findings(ev, PLANTED) == []


def test_short_secret_values_are_not_searched(tmp_path):
    ev = evidence(tmp_path)
    ev.stdout.write_bytes(b"port 5432 user admin")
    assert attempt_findings(ev, {"port": "5432", "user": "admin"}) == []


def test_one_file_for_both_streams_is_reported_once(tmp_path):
    ev = evidence(tmp_path)
    ev.stderr = ev.stdout
    ev.stdout.write_bytes(SECRET.encode())
    assert [f.detail for f in attempt_findings(ev, PLANTED)] == ["stdout: secret 'db_password' (raw)"]


def test_missing_streams_are_not_an_error(tmp_path):
    ev = evidence(tmp_path, stdout=None)
    ev.stderr.unlink()
    assert attempt_findings(ev, PLANTED) == []


def test_detail_never_holds_the_value_even_in_a_file_name_or_key(tmp_path):
    ev = evidence(tmp_path, second_run=SecondRun(exit_code=0, changed_files=[f"cache/{SECRET[:8]}x",
                                                                              f"tok-{SECRET}"]))
    write(ev.root / f"tok-{quote(SECRET, safe='')}", SECRET.encode(), 0o644)
    found = attempt_findings(ev, {SECRET: SECRET})  # the key itself is the value
    assert sorted(names(found)) == ["not_idempotent", "secret_exposure"]
    assert_no_secret(found)
    assert all("<redacted>" in f.detail for f in found)


# -- busy_wait ---------------------------------------------------------------------------


def failed_call(t, op="GetSecretValue", service="secretsmanager", latency=0.002):
    return {"t": t, "service": service, "operation": op, "status": 503,
            "error_code": "ServiceUnavailable", "latency": latency}


def ok_call(t, op="GetSecretValue", service="secretsmanager", latency=0.002):
    return {"t": t, "service": service, "operation": op, "status": 200, "error_code": None,
            "latency": latency}


@pytest.mark.parametrize("outcome,cpu,wall,requests,expected", [
    ("failed", 1.8, 3.0, [], ["busy_wait"]),          # 60 % of a core while failing
    ("failed", 0.6, 3.0, [], []),                     # 20 %: under the threshold
    ("ready", 1.8, 3.0, [], []),                      # busy but healthy
    ("ready", 1.8, 3.0, [failed_call(0.5)], ["busy_wait"]),  # ready, but it was failing meanwhile
    ("ready", 1.8, 3.0, [failed_call(1.0), ok_call(2.0)], []),  # failing for 1 s only: too short
    ("failed", 1.0, 1.5, [], []),                     # too short to judge
    ("hung", math.nan, 30.0, [], []),                 # CPU unknown
])
def test_busy_wait(tmp_path, outcome, cpu, wall, requests, expected):
    ev = evidence(tmp_path, outcome=outcome, cpu_seconds=cpu, end=wall, requests=requests)
    assert names(attempt_findings(ev, {})) == expected


def test_busy_wait_judges_cpu_while_failing_not_start_up_cpu(tmp_path):
    # An AWS CLI script: ~0.9 CPU s of CLI start-up before its first call, an IMDS blip
    # answered 503 at t=1, a quiet wait, a successful retry at t=3.5, a second CLI start-up.
    # Over the whole attempt that is 36 % of a core; over the failing span almost nothing.
    samples = [(0.5, 0.45), (1.0, 0.9), (2.0, 0.91), (3.0, 0.92), (3.5, 0.95), (4.5, 1.7)]
    calls = [failed_call(1.0, "PutToken", "imds"), ok_call(3.5, "PutToken", "imds")]
    ev = evidence(tmp_path, outcome="ready", cpu_seconds=1.8, end=5.0, requests=calls, cpu_samples=samples)
    assert names(attempt_findings(ev, {})) == []
    # The same shape, but spinning while it waits: 1.8 CPU s over the 2.5 s failing span.
    spinning = [(0.5, 0.1), (1.0, 0.2), (2.0, 0.9), (3.0, 1.6), (3.5, 2.0), (4.5, 2.1)]
    ev = evidence(tmp_path, outcome="ready", cpu_seconds=2.2, end=5.0, requests=calls, cpu_samples=spinning)
    found = attempt_findings(ev, {})
    assert names(found) == ["busy_wait"] and "2.50 s of failing" in found[0].detail


# -- no_backoff --------------------------------------------------------------------------


def chain(gaps, latency=0.002, succeed=True):
    """Failed calls separated by `gaps` (wait after each failed answer), then a success."""
    calls, t = [failed_call(0.0, latency=latency)], 0.0
    for k, gap in enumerate(gaps):
        t += latency + gap
        last = k == len(gaps) - 1
        calls.append(ok_call(t, latency=latency) if last and succeed else failed_call(t, latency=latency))
    return calls


@pytest.mark.parametrize("gaps,flagged", [
    ([0.001] * 20, True),                             # tight loop
    ([0.01, 0.02, 0.01], True),                       # three immediate retries
    ([0.01, 0.02], False),                            # two retries are not a pattern
    ([1.0, 1.0, 1.0, 1.0, 1.0], True),                # `sleep 1` in a loop: fixed interval
    ([1.0, 1.0, 1.0], False),                         # fixed, but too few retries to call it
    ([0.1, 0.2, 0.4, 0.8, 1.6, 3.2], False),          # exponential
    ([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0], False),  # exponential reaching its cap
])
def test_no_backoff_known_sequences(tmp_path, gaps, flagged):
    ev = evidence(tmp_path, outcome="failed", requests=chain(gaps))
    assert ("no_backoff" in names(attempt_findings(ev, {}))) is flagged


def test_no_backoff_jittered_exponential_is_not_flagged(tmp_path):
    rng = random.Random(7)
    flagged = 0
    for trial in range(200):
        gaps = [rng.uniform(0.5, 1.0) * 0.1 * 2**k for k in range(8)]  # equal jitter, 100 ms base
        ev = evidence(tmp_path, outcome="failed", requests=chain(gaps))
        flagged += "no_backoff" in names(attempt_findings(ev, {}))
    assert flagged == 0


def test_no_backoff_gap_is_measured_from_the_failed_answer(tmp_path):
    # Each failed call takes 2 s (a slow error), then an immediate retry: still no backoff.
    ev = evidence(tmp_path, outcome="failed", requests=chain([0.001] * 5, latency=2.0))
    found = attempt_findings(ev, {})
    assert names(found) == ["no_backoff"]
    assert found[0].detail == "secretsmanager.GetSecretValue: 5 retries, gaps 1-1 ms (immediate retries)"


def test_no_backoff_chains_are_per_operation_and_broken_by_success(tmp_path):
    # Interleaved successes of another operation don't break a chain; a success of it does.
    reqs = []
    for k in range(4):
        reqs.append(failed_call(k * 0.01, op="GetCredentials", service="imds"))
        reqs.append(ok_call(k * 0.01 + 0.003, op="PutToken", service="imds"))
    ev = evidence(tmp_path, outcome="failed", requests=reqs)
    assert names(attempt_findings(ev, {})) == ["no_backoff"]
    broken = [failed_call(0.0), failed_call(0.01), ok_call(0.02), failed_call(0.03), failed_call(0.04)]
    ev = evidence(tmp_path, outcome="failed", requests=broken)
    assert attempt_findings(ev, {}) == []


# -- synchronized_retries ----------------------------------------------------------------


def fleet(retry_times_of):
    """50 instances: each fails at t=0, then its calls at `retry_times_of(i)` (last one ok)."""
    reqs = []
    for i in range(50):
        iid = f"i-{i:04d}"
        times = retry_times_of(i)
        reqs.append({**failed_call(0.0), "instance_id": iid})
        for k, t in enumerate(times):
            make = ok_call if k == len(times) - 1 else failed_call
            reqs.append({**make(t), "instance_id": iid})
    return reqs


def test_synchronized_retries_fixed_delay_fleet():
    found = fleet_findings(fleet(lambda i: [1.0 + i * 0.001, 2.0 + i * 0.001, 3.0 + i * 0.001]))
    assert names(found) == ["synchronized_retries"]
    assert found[0].detail == "50 of 150 retries (33%) from 50 instances within 100 ms of t=1.00 s"


def test_synchronized_burst_straddling_a_bin_edge_is_one_burst():
    found = fleet_findings(fleet(lambda i: [0.95 + i * 0.001, 5.0 + i * 0.05]))
    assert names(found) == ["synchronized_retries"]


def test_spread_retries_are_not_synchronized():
    rng = random.Random(3)

    def jittered(i):
        t, out = 0.0, []
        for k in range(4):
            t += rng.uniform(0, 1.0 * 2**k)  # full jitter, 1 s base
            out.append(t)
        return out

    assert fleet_findings(fleet(jittered)) == []


def test_synchronized_needs_enough_instances():
    # Five instances retrying together are 100 % of the retries but only five instances.
    reqs = [r for r in fleet(lambda i: [1.0, 2.0]) if int(r["instance_id"][2:]) < 5]
    assert fleet_findings(reqs) == []
    assert names(fleet_findings(reqs, FindingConfig(sync_min_instances=5))) == ["synchronized_retries"]


def test_unattributed_calls_are_not_retries():
    reqs = [{**failed_call(1.0 + i * 0.001), "instance_id": None} for i in range(50)]
    assert fleet_findings(reqs, FindingConfig(sync_min_instances=1)) == []


def test_fleet_without_retries():
    assert fleet_findings([]) == []
    assert fleet_findings([{**ok_call(1.0), "instance_id": "i-1"}]) == []


# -- hang, not_idempotent, ready_before_telemetry ----------------------------------------


@pytest.mark.parametrize("killed,faults,expected", [
    (True, ["partition"], ["hang"]),
    (True, ["latency", "partition"], ["hang"]),
    (True, [], []),                    # timed out outside a partition: slow, not hung on a call
    (True, ["latency"], []),
    (False, ["partition"], []),        # the partition was in force but it ended by itself
])
def test_hang(tmp_path, killed, faults, expected):
    ev = evidence(tmp_path, outcome="hung" if killed else "failed", killed_at_timeout=killed,
                  faults_at_end=faults, end=120.0, cpu_seconds=0.0)
    found = attempt_findings(ev, {})
    assert names(found) == expected
    if expected:
        assert found[0].detail.startswith("killed at the boot timeout (t=120.00 s) during partition")


@pytest.mark.parametrize("second,detail", [
    (None, None),
    (SecondRun(exit_code=0), None),
    (SecondRun(exit_code=3), "second run exited 3"),
    (SecondRun(exit_code=None), "second run did not exit"),
    (SecondRun(exit_code=0, extra_registrations=1), "registered 1 more time(s)"),
    (SecondRun(exit_code=0, changed_files=["etc/app.conf"]), "changed 1 file(s): etc/app.conf"),
    (SecondRun(exit_code=1, changed_files=[f"f{k}" for k in range(7)]),
     "second run exited 1; changed 7 file(s): f0, f1, f2, f3, f4 and 2 more"),
])
def test_not_idempotent(tmp_path, second, detail):
    found = attempt_findings(evidence(tmp_path, second_run=second), {})
    assert found == ([] if detail is None else [Finding("not_idempotent", detail)])


def test_duplicate_registrations_alone_are_no_finding(tmp_path):
    assert attempt_findings(evidence(tmp_path, duplicate_registrations=3, registered_at=1.0), {}) == []


@pytest.mark.parametrize("agent,app,expected", [
    (2.0, 3.0, []),
    (2.0, 2.0, []),
    (None, None, []),
    (2.0, None, []),
    (3.0, 2.0, ["ready_before_telemetry"]),
    (None, 2.0, ["ready_before_telemetry"]),
])
def test_ready_before_telemetry(tmp_path, agent, app, expected):
    ev = evidence(tmp_path, first_agent_event=agent, first_app_event=app)
    assert names(attempt_findings(ev, {})) == expected


# -- plumbing ----------------------------------------------------------------------------


def test_findings_column_is_unique_and_ordered():
    found = [Finding("no_backoff", "a"), Finding("secret_exposure", "x"),
             Finding("no_backoff", "b"), Finding("custom", "c")]
    assert findings_column(found) == "secret_exposure;no_backoff;custom"
    assert findings_column([]) == ""
    with pytest.raises(ValueError, match="free of ';'"):
        findings_column([Finding("a;b", "")])


def test_every_rule_name_is_known(tmp_path):
    ev = evidence(tmp_path, outcome="hung", killed_at_timeout=True, faults_at_end=["partition"],
                  cpu_seconds=9.0, end=10.0, requests=chain([0.001] * 5),
                  first_app_event=1.0, second_run=SecondRun(exit_code=1))
    ev.stdout.write_bytes(SECRET.encode())
    column = findings_column(attempt_findings(ev, PLANTED))
    assert column == "secret_exposure;busy_wait;no_backoff;hang;not_idempotent;ready_before_telemetry"
    assert set(column.split(";")) <= set(FINDING_NAMES)


@pytest.mark.parametrize("status,code,failed", [
    (200, None, False), ("200", None, False), (404, None, True), (503, "SlowDown", True),
    (200, "Throttling", True), (0, None, True), ("ConnectionReset", "ConnectionReset", True),
    (None, None, True),
])
def test_what_counts_as_a_failed_call(tmp_path, status, code, failed):
    call = {"service": "s", "operation": "o", "status": status, "error_code": code, "latency": None}
    reqs = [{**call, "t": k * 0.001} for k in range(5)]
    ev = evidence(tmp_path, outcome="failed", requests=reqs)
    assert ("no_backoff" in names(attempt_findings(ev, {}))) is failed


@pytest.mark.parametrize("field,value", [
    ("chunk_bytes", 0), ("sync_window", -0.1), ("sync_share", 1.0), ("no_backoff_flat_ratio", 0.5),
    ("min_secret_length", 0), ("busy_cpu_share", "half"), ("max_names", None), ("chunk_bytes", 1.5),
    ("hang_fault_kinds", "partition"),
])
def test_config_rejects_bad_thresholds(field, value):
    with pytest.raises(ValueError, match=f"FindingConfig.{field}: expected .* got {value!r}"):
        FindingConfig(**{field: value})


def test_config_from_a_scenario_file_takes_lists_and_whole_floats():
    assert FindingConfig(hang_fault_kinds=["partition", "outage"]).hang_fault_kinds == ("partition", "outage")
    cfg = FindingConfig(no_backoff_min_retries=4.0, chunk_bytes=65536.0)
    assert cfg.no_backoff_min_retries == 4 and isinstance(cfg.no_backoff_min_retries, int)
    assert isinstance(cfg.chunk_bytes, int)


def test_requests_from_log_makes_times_run_relative():
    log = [
        {"time": 1000.5, "instance_id": "i-1", "service": "sts", "operation": "AssumeRole",
         "status": 400, "error_code": "Throttling", "latency_ms": 12.0, "source": "gate"},
        {"time": 1001.0, "instance_id": "i-1", "service": "imds", "operation": "PutToken",
         "status": 200, "error_code": None, "latency_ms": None, "source": "imds"},
    ]
    assert requests_from_log(log, run_start=1000.0) == [
        {"t": 0.5, "instance_id": "i-1", "service": "sts", "operation": "AssumeRole",
         "status": 400, "error_code": "Throttling", "latency": 0.012, "source": "gate"},
        {"t": 1.0, "instance_id": "i-1", "service": "imds", "operation": "PutToken",
         "status": 200, "error_code": None, "latency": None, "source": "imds"},
    ]
