"""The reference bootstraps in scenarios/bootstraps/, run for real against the fakes stack.

Each script runs as its own process with only an instance's environment (the stack's
``add_instance`` env, a temporary instance root as HOME, empty AWS config files, PATH and
PYTHONPATH): none of the caller's AWS_* variables. The stack is the session's (conftest
``fake_stack``), reset before each test. Planted secret values are compared, never printed:
assertions test booleans computed beforehand, so a failure message cannot show the value.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAPS = REPO / "scenarios" / "bootstraps"
SECRET_ID = "app/db-password"
RUN_TIMEOUT = 120  # seconds; a hang fails the test instead of the suite


def _command(script: str) -> list[str]:
    path = str(BOOTSTRAPS / script)
    return [sys.executable, path] if script.endswith(".py") else ["bash", path]


def instance(stack, root: Path) -> dict[str, str]:
    """A fresh instance in IMDS and the environment its bootstrap gets."""
    iid = "i-0" + uuid.uuid4().hex[:16]
    env = stack.add_instance(iid)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("aws-config", "aws-credentials"):
        (root / name).write_text("")
    env.update(
        BOOTSTORM_INSTANCE_ROOT=str(root),
        HOME=str(root),
        AWS_CONFIG_FILE=str(root / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "aws-credentials"),
        # the Python running the tests has boto3, awscli's `aws` and bootstorm itself
        PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        PYTHONPATH=str(REPO),
    )
    return env


def run(script: str, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    """Run a bootstrap to its end; on a hang, kill its whole process group (curl, aws) and fail."""
    cmd = _command(script)
    proc = subprocess.Popen(cmd, env={**env, **extra}, cwd=env["HOME"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"{script} did not finish within {RUN_TIMEOUT}s") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def files_holding(root: Path, value: str) -> dict[str, int]:
    """Relative path -> permission bits of every file under ``root`` that contains ``value``."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and value.encode() in path.read_bytes():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def why(done: subprocess.CompletedProcess, planted: str) -> str:
    """The script's output for a failure message, with the planted value masked."""
    return f"exit {done.returncode}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}".replace(
        planted, "<planted secret>")


@pytest.mark.parametrize("script", ["naive.sh", "awscli.sh", "reference.py"])
def test_script_registers_and_exits_zero_when_nothing_is_wrong(fake_stack, tmp_path, script):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    done = run(script, env)
    assert done.returncode == 0, why(done, planted)
    summary = fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]
    assert summary["registered_at"] is not None
    assert summary["agent_events"] >= 1 and summary["app_events"] >= 1
    holding = files_holding(tmp_path / "root", planted)
    assert "secrets/db-password" in holding, "the secret was not written where the app reads it"
    secret_file = (tmp_path / "root" / "secrets" / "db-password").read_text().strip() == planted
    assert secret_file, "the secret file does not hold the planted value"
    log = fake_stack.request_log()
    calls = {(e["service"], e["operation"]) for e in log if e["instance_id"] == env["BOOTSTORM_INSTANCE_ID"]}
    assert {("imds", "PutToken"), ("secretsmanager", "GetSecretValue"), ("ssm", "GetParameter")} <= calls


@pytest.mark.parametrize("script", ["awscli.sh", "reference.py"])
def test_careful_scripts_leak_nothing_and_start_the_agent_first(fake_stack, tmp_path, script):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    done = run(script, env)
    assert done.returncode == 0, why(done, planted)
    leaked = planted in done.stdout or planted in done.stderr
    assert not leaked, f"{script} printed the planted secret"
    holding = files_holding(tmp_path / "root", planted)
    assert holding and set(holding.values()) == {0o600}, f"secret files and modes: {holding}"
    summary = fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]
    assert summary["first_agent_monotonic"] < summary["first_app_monotonic"] <= summary["registered_monotonic"]


def test_naive_script_leaks_the_secret_and_reports_the_app_first(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    done = run("naive.sh", env)
    assert done.returncode == 0, why(done, planted)
    leaked = planted in done.stdout
    assert leaked, "naive.sh is meant to echo the secret to stdout"
    holding = files_holding(tmp_path / "root", planted)
    world_readable = [path for path, mode in holding.items() if mode & stat.S_IROTH]
    assert world_readable == ["secrets/db-password"], f"secret files and modes: {holding}"
    summary = fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]
    assert summary["first_app_monotonic"] < summary["first_agent_monotonic"]
    # a second boot registers again under a new random key instead of being recognised
    again = run("naive.sh", env)
    assert again.returncode == 0, why(again, planted)
    summary = fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]
    assert summary["reregistrations"] == 1 and summary["duplicate_registrations"] == 0
    appended = (tmp_path / "root" / "app" / "config").read_text().count('{"feature": true}')
    assert appended == 2


def test_awscli_script_run_twice_registers_once(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    for _ in range(2):
        done = run("awscli.sh", env)
        assert done.returncode == 0, why(done, planted)
    summary = fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]
    assert summary["reregistrations"] == 0 and summary["duplicate_registrations"] <= 1
    secret_calls = [e for e in fake_stack.request_log()
                    if e["instance_id"] == env["BOOTSTORM_INSTANCE_ID"] and e["operation"] == "GetSecretValue"]
    assert len(secret_calls) == 1  # the marker skipped the one-time work


def test_awscli_script_exits_nonzero_naming_the_step_when_access_is_denied(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    fake_stack.apply_fault("deny", "secretsmanager")
    done = run("awscli.sh", env)
    assert done.returncode != 0, why(done, planted)
    assert "step=secret" in done.stderr, why(done, planted)
    assert not (tmp_path / "root" / ".bootstorm" / "awscli.done").exists()
    assert fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]["registered_at"] is None


# reference.py: idempotency, deadlines, jittered retries ------------------------------------
def test_reference_run_twice_registers_once_and_exits_zero_both_times(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    first = run("reference.py", env)
    second = run("reference.py", env)
    assert first.returncode == 0, why(first, planted)
    assert second.returncode == 0, why(second, planted)
    summary = fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]
    assert summary["reregistrations"] == 0 and summary["duplicate_registrations"] <= 1
    members = [m for m in fake_stack.sinks.membership()["members"] if m["instance_id"] == env["BOOTSTORM_INSTANCE_ID"]]
    assert len(members) == 1 and members[0]["idempotency_key"] == env["BOOTSTORM_INSTANCE_ID"]
    ready = [json_lines(done.stderr)[-1] for done in (first, second)]
    assert [r["event"] for r in ready] == ["ready", "ready"]
    assert ready[1]["rerun"] is True
    # every log line carries the correlation id of its own run
    for done in (first, second):
        lines = json_lines(done.stderr)
        assert len({line["correlation_id"] for line in lines}) == 1
        assert lines[0]["correlation_id"].startswith(env["BOOTSTORM_INSTANCE_ID"] + "/")
    assert set(files_holding(tmp_path / "root", planted).values()) == {0o600}


def test_reference_fails_within_its_deadline_when_secrets_manager_is_partitioned(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    fake_stack.apply_fault("partition", "secretsmanager")
    deadline = 3.0
    done = run("reference.py", env, BOOTSTORM_CALL_DEADLINE=str(deadline))
    assert done.returncode == 1, why(done, planted)
    lines = json_lines(done.stderr)
    error = lines[-1]
    assert (error["level"], error["event"], error["step"], error["error_code"]) == \
        ("error", "bootstrap_failed", "secret", "Timeout"), why(done, planted)
    started = next(line["time"] for line in lines if line["event"] == "step_started" and line["step"] == "secret")
    # the secret call (attempts and waits) ended at its deadline, not one read timeout later
    assert error["time"] - started <= deadline + 0.5, why(done, planted)
    assert error["time"] - started >= deadline * 0.5, why(done, planted)
    assert fake_stack.sink_summary()[env["BOOTSTORM_INSTANCE_ID"]]["registered_at"] is None
    assert not (tmp_path / "root" / "secrets" / "db-password").exists()


def test_reference_retries_throttling_with_jittered_gaps(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    # An empty bucket that never refills: every GetSecretValue is throttled.
    fake_stack.apply_fault("throttle", "secretsmanager.GetSecretValue", rate=0)
    done = run("reference.py", env, BOOTSTORM_CALL_DEADLINE="8")
    assert done.returncode == 1, why(done, planted)
    error = json_lines(done.stderr)[-1]
    assert (error["step"], error["error_code"]) == ("secret", "ThrottlingException"), why(done, planted)
    assert "deadline" in error["message"] or "max_attempts" in error["message"]
    attempts = [e for e in fake_stack.request_log()
                if e["instance_id"] == env["BOOTSTORM_INSTANCE_ID"] and e["operation"] == "GetSecretValue"]
    assert 3 <= len(attempts) <= 10 and {e["error_code"] for e in attempts} == {"ThrottlingException"}
    gaps = [b["time"] - a["time"] for a, b in zip(attempts, attempts[1:])]
    assert min(gaps) >= 0.0
    # full jitter: uniform(0, min(8, 0.5 * 2**n)) plus the attempt itself; never lockstep
    assert max(gaps) - min(gaps) > 0.01, gaps
    assert attempts[-1]["time"] - attempts[0]["time"] <= 8.5, gaps


def test_reference_gets_new_credentials_when_its_keys_expire_mid_boot(fake_stack, tmp_path):
    planted = fake_stack.planted_secrets()[SECRET_ID]
    env = instance(fake_stack, tmp_path / "root")
    # Hold the secret request on its way to the gate, so the keys expire while it travels.
    fake_stack.proxies.add_toxic("secretsmanager", "latency", "upstream", {"latency": 2500, "jitter": 0})
    proc = subprocess.Popen(_command("reference.py"), env=env, cwd=env["HOME"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True)
    reader.start()
    try:
        seen: dict = {}
        while (seen.get("event"), seen.get("step")) != ("step_done", "credentials"):
            line = lines.get(timeout=RUN_TIMEOUT)
            seen = json.loads(line) if line.startswith("{") else {}
        fake_stack.apply_fault("expire_credentials", "instances")
        assert proc.wait(timeout=RUN_TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(timeout=10)
    rest = [json.loads(line) for line in list(lines.queue) if line.startswith("{")]
    refresh = [line for line in rest if line["event"] == "credentials_refresh"]
    assert refresh and refresh[0]["error_code"].startswith("ExpiredToken"), rest
    attempts = [(e["status"], e["error_code"]) for e in fake_stack.request_log()
                if e["instance_id"] == env["BOOTSTORM_INSTANCE_ID"] and e["operation"] == "GetSecretValue"]
    assert attempts[0][1].startswith("ExpiredToken") and attempts[-1] == (200, None), attempts
    secret_file = (tmp_path / "root" / "secrets" / "db-password").read_text() == planted
    assert secret_file
