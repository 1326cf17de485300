"""netns isolation: what an instance's namespace reaches, IMDS faults per instance, and cleanup.

Needs root and network namespaces (skipped otherwise, saying why). Every namespace here is one
the test (or the harness it starts) created; traffic stays inside them and the host's loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from sim.engines.exec import run
from sim.engines.exec.netns import Namespace, list_namespaces, sweep_stale
from sim.runner import run_scenario

from tests.integration._exec_fixtures import SLEEP_FOREVER, read_pids, scenario
from tests.integration._netns_fixtures import isolated, namespaces_of, netns_required  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
IID_A, IID_B = "i-0a0000000000000a1", "i-0b0000000000000b2"
# Exit codes of curl (man curl): 7 could not connect, 28 timed out, 52 empty reply, 56 recv failure.
CURL_CONNECT, CURL_TIMEOUT = 7, 28


def _curl(inst, url: str, *extra: str, timeout: float = 10.0):
    return inst.run(["curl", "-sS", "-m", str(timeout), *extra, url])


def _imds_get(inst, path: str, address: str = "169.254.169.254", timeout: float = 10.0):
    token = _curl(inst, f"http://{address}/latest/api/token", "-X", "PUT",
                  "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", timeout=timeout)
    if token.returncode != 0:
        return token
    return _curl(inst, f"http://{address}{path}", "-H", f"X-aws-ec2-metadata-token: {token.stdout}",
                 timeout=timeout)


def test_a_namespace_reaches_its_own_imds_and_the_fakes_and_nothing_else(isolated):
    a, b = isolated(IID_A), isolated(IID_B)
    assert a.namespace != b.namespace and a.namespace.startswith(f"bootstorm-{os.getpid()}-")
    for inst in (a, b):  # each sees its own identity at EC2's address, v4 and v6
        assert _imds_get(inst, "/latest/meta-data/instance-id").stdout == inst.instance_id
        assert _imds_get(inst, "/latest/meta-data/instance-id", "[fd00:ec2::254]").stdout == inst.instance_id
    assert a.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == "http://169.254.169.254/"  # EC2's own
    # The AWS endpoints reach the gate, the sink URLs the sinks: any HTTP answer proves the path.
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS"):
        done = _curl(a, a.env[var] + "/", "-o", "/dev/null", "-w", "%{http_code}")
        assert done.returncode == 0 and done.stdout.isdigit() and done.stdout != "000", (var, done)
    done = _curl(a, a.env["BOOTSTORM_REGISTRY_URL"] + "/__bootstorm/health", "-o", "/dev/null", "-w", "%{http_code}")
    assert done.returncode == 0 and done.stdout != "000", done
    # Not reachable: the fakes' own ports (control APIs, moto), anything off the host.
    endpoints = isolated.stack.endpoints()
    for name in ("imds_direct", "moto_direct", "gate_direct"):
        done = _curl(a, endpoints[name] + "/")
        assert done.returncode == CURL_CONNECT, (name, done)
    done = _curl(a, "http://10.1.2.3/", timeout=2)
    assert done.returncode == CURL_CONNECT, done
    route = a.run(["ip", "route", "get", "10.1.2.3"])
    assert route.returncode != 0 and "unreachable" in route.stderr.lower(), route  # no route at all
    routes = a.run(["ip", "route", "show"]).stdout + a.run(["ip", "-6", "route", "show", "default"]).stdout
    assert "default" not in routes
    links = a.run(["ip", "-o", "link", "show"]).stdout.splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]


def test_imds_faults_hit_one_instance_or_all_of_them(isolated):
    stack = isolated.stack
    a, b = isolated(IID_A), isolated(IID_B)
    reset = stack.apply_fault("reset", "imds", instance=a.instance_id)
    try:
        done = _imds_get(a, "/latest/meta-data/instance-id")
        assert done.returncode in (52, 56), done  # a reset connection, as on a real network
        assert _imds_get(b, "/latest/meta-data/instance-id").stdout == b.instance_id
    finally:
        stack.lift_fault(reset)
    assert _imds_get(a, "/latest/meta-data/instance-id").stdout == a.instance_id
    partition = stack.apply_fault("partition", "imds")
    try:
        for inst in (a, b):
            done = _imds_get(inst, "/latest/meta-data/instance-id", timeout=1.5)
            assert done.returncode == CURL_TIMEOUT, done  # held unanswered: the caller times out
    finally:
        stack.lift_fault(partition)
    outage = stack.apply_fault("outage", "imds", instance=b.instance_id)
    try:
        token = _curl(b, "http://169.254.169.254/latest/api/token", "-X", "PUT", "-o", "/dev/null",
                      "-w", "%{http_code}", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60")
        assert token.stdout == "503"
        assert _imds_get(a, "/latest/meta-data/instance-id").stdout == a.instance_id
    finally:
        stack.lift_fault(outage)
    for inst in (a, b):
        assert _imds_get(inst, "/latest/meta-data/instance-id").stdout == inst.instance_id


# EC2's way: hard-coded link-local address, IMDSv2 token, role credentials, then a SigV4 call
# (curl's own --aws-sigv4) to STS at the endpoint the environment names, and a registration.
# Timeouts are generous: this is about reaching things on a loaded machine, not speed.
CURL_BOOTSTRAP = r'''set -eu
IMDS=http://169.254.169.254
TOKEN=$(curl -sSf -m 15 -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
get() { curl -sSf -m 15 -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/$1"; }
IID=$(get meta-data/instance-id)
[ "$IID" = "$BOOTSTORM_INSTANCE_ID" ] || { echo "IMDS says $IID" >&2; exit 3; }
ROLE=$(get meta-data/iam/security-credentials/)
CREDS=$(get "meta-data/iam/security-credentials/$ROLE")
field() { printf '%s' "$CREDS" | tr -d '\n' | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
curl -sSf -m 30 --aws-sigv4 "aws:amz:$AWS_REGION:sts" --user "$(field AccessKeyId):$(field SecretAccessKey)" \
  -H "x-amz-security-token: $(field Token)" -d "Action=GetCallerIdentity&Version=2011-06-15" \
  "$AWS_ENDPOINT_URL_STS/" | grep -q "assumed-role/$ROLE/"
curl -sSf -m 15 -X POST -H 'Content-Type: application/json' -d "{\"instance_id\": \"$IID\"}" \
  "$BOOTSTORM_REGISTRY_URL/register" > /dev/null
'''


def test_an_unmodified_curl_bootstrap_boots_as_on_ec2(netns_required, fake_stack_session, tmp_path):
    path = tmp_path / "boot.sh"
    path.write_text(CURL_BOOTSTRAP)
    sc = scenario(f"bash {path}", size=3, exec_extra={"isolation": "netns", "keep_files": True})
    outcome = run_scenario(sc, engine="exec", out_dir=tmp_path / "results", plots=False)
    kept = next(w for w in outcome.run.meta.warnings if "kept in" in w).rsplit(" ", 1)[1]
    try:
        stderr = {p.name: p.read_text() for p in Path(kept, "logs").glob("*.stderr")}
    finally:
        shutil.rmtree(kept)
    assert list(outcome.run.attempts.outcome) == ["ready"] * 3, (outcome.run.attempts.error_class, stderr)
    assert outcome.run.meta.isolation == "netns"
    summary = json.loads((outcome.folder / "summary.json").read_text())
    assert summary["meta"]["isolation"] == "netns"
    assert "isolation `netns`" in (outcome.folder / "report.md").read_text()
    assert namespaces_of(os.getpid()) == []


def test_env_isolation_keeps_the_endpoint_variable_and_says_so(fake_stack_session, tmp_path):
    path = tmp_path / "boot.sh"  # hard-coded 169.254.169.254 cannot work without a namespace
    path.write_text('set -e; E="$AWS_EC2_METADATA_SERVICE_ENDPOINT"\n'
                    'T=$(curl -sSf -m 15 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "${E}latest/api/token")\n'
                    'I=$(curl -sSf -m 15 -H "X-aws-ec2-metadata-token: $T" "${E}latest/meta-data/instance-id")\n'
                    'test "$I" = "$BOOTSTORM_INSTANCE_ID"\n')
    result = run(scenario(f"sh {path}", size=2, exec_extra={"isolation": "env", "ready_when": "exit_zero"}),
                 stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready", "ready"]
    assert result.meta.isolation == "env"
    assert not any("isolation" in w for w in result.meta.warnings)  # asked for: no warning


def test_a_crash_inside_the_run_leaves_no_namespace(netns_required, fake_stack_session, tmp_path):
    seen = []

    def progress(now, horizon, finished, size):  # the harness itself fails mid-run
        seen.append(len(namespaces_of(os.getpid())))
        if seen[-1] == 2:  # both instances launched
            raise RuntimeError("harness bug")

    sc = scenario("sleep 30", size=2, exec_extra={"isolation": "netns"}, horizon="60s")
    with pytest.raises(RuntimeError, match="harness bug"):
        run(sc, stack=fake_stack_session, progress=progress)
    assert seen and seen[-1] == 2  # the namespaces were there while it ran
    assert namespaces_of(os.getpid()) == []


def _cli(tmp_path: Path, doc: dict, *args: str) -> subprocess.Popen:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--engine", "exec", "--out",
         str(tmp_path / "results"), "--no-plots", "--quiet", *args],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _doc(command: str, size: int, **exec_extra) -> dict:
    return {
        "name": "netns-cli", "run": {"horizon": "10m"},
        "fleet": {"size": size, "arrival": {"kind": "burst"}},
        "dependencies": {"registry": {"concurrency": 8, "service_time": "10ms", "operations": {"Register": {}}}},
        "bootstrap": {"steps": [{"name": "register", "call": "registry.Register", "mark": "ready"}]},
        "slos": [{"metric": "bootstrap_success_rate", "op": ">=", "value": 0.99}],
        "exec": {"command": command, "boot_timeout": "5m", **exec_extra},
    }


def test_sigint_to_the_cli_removes_every_namespace(netns_required, tmp_path):
    pids = tmp_path / "pids"
    before = list_namespaces()
    proc = _cli(tmp_path, _doc(SLEEP_FOREVER, 3, env={"PIDS": str(pids)}), "--isolation", "netns")
    try:
        deadline = time.monotonic() + 120
        while len(read_pids(pids)) < 6 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        assert len(namespaces_of(proc.pid)) == 3  # one per instance, named after the harness
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (stdout, stderr)
    assert namespaces_of(proc.pid) == []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"bootstorm-{proc.pid}-" not in listed
    assert list_namespaces() == before
    folder = next(f for f in (tmp_path / "results").iterdir() if not f.name.startswith("."))
    assert json.loads((folder / "summary.json").read_text())["meta"]["isolation"] == "netns"


def test_an_slo_failure_and_sigterm_leave_no_namespace(netns_required, tmp_path):
    proc = _cli(tmp_path, _doc("exit 1", 2))  # isolation auto: netns here
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1, (stdout, stderr)  # the SLO failed
    assert re.search(r"isolation.*netns", stdout), stdout
    assert namespaces_of(proc.pid) == []
    proc = _cli(tmp_path, _doc("sleep 600", 2), "--isolation", "netns")
    try:
        deadline = time.monotonic() + 120
        while len(namespaces_of(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(namespaces_of(proc.pid)) == 2, proc.poll()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert namespaces_of(proc.pid) == []


def test_namespaces_of_a_dead_harness_are_swept(netns_required):
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is free now (reuse within this test is vanishingly unlikely)
    stale = Namespace.create(f"bootstorm-{dead.pid}-7")
    live = Namespace.create("bootstorm-1-9")  # pid 1 is alive: not ours to remove
    try:
        swept = sweep_stale()
        assert stale.name in swept and live.name not in swept
        assert stale.name not in list_namespaces() and live.name in list_namespaces()
    finally:
        stale.remove()
        live.remove()
    assert live.name not in list_namespaces()


def test_netns_is_refused_clearly_where_it_cannot_run(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user")
    setpriv = subprocess.run(["which", "setpriv"], capture_output=True, text=True).stdout.strip()
    if not setpriv:
        pytest.skip("util-linux setpriv is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bootstorm-netns-test-"))  # readable by nobody
    folder.chmod(0o755)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(_doc("true", 1)))
    path.chmod(0o644)
    try:
        done = _as_nobody(setpriv, path)
    finally:
        shutil.rmtree(folder)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "isolation netns is not possible here: not running as root" in done.stderr
    assert "Traceback" not in done.stderr


def _as_nobody(setpriv: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "sim.cli",
         "run", str(path), "--engine", "exec", "--isolation", "netns", "--out", "/nonexistent", "--quiet"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "HOME": "/tmp"},
        capture_output=True, text=True, timeout=120)


def _imds_get_raw(isolation, namespace: str) -> int:
    """curl's exit code for the metadata address from inside ``namespace``."""
    return subprocess.run(["ip", "netns", "exec", namespace, "curl", "-s", "-m", "5",
                           "http://169.254.169.254/latest/api/token", "-X", "PUT"]).returncode


def test_namespaces_made_ahead_are_used_first_and_removed_with_the_rest(netns_required, fake_stack):
    from sim.engines.exec.isolation import NetnsIsolation

    isolation = NetnsIsolation()
    isolation.setup(fake_stack)
    try:
        isolation.prepare(2)
        pooled = namespaces_of(os.getpid())
        assert len(pooled) == 2
        isolation.add(IID_A, fake_stack)
        isolation.add(IID_B, fake_stack)
        isolation.add("i-0c0000000000000c3", fake_stack)  # the pool is empty: made at launch
        assert [isolation.spaces[i].name for i in (IID_A, IID_B)] == pooled
        assert len(namespaces_of(os.getpid())) == 3
        isolation.release(IID_A)  # unreachable at once, removed with the next batch
        assert _imds_get_raw(isolation, pooled[0]) != 0
        isolation.flush()
        assert pooled[0] not in namespaces_of(os.getpid())
        isolation.prepare(2)  # two more, unused when the run ends
        assert len(namespaces_of(os.getpid())) == 4
    finally:
        isolation.close()
        fake_stack.imds_listeners = False
    assert namespaces_of(os.getpid()) == []


def test_slow_bandwidth_on_imds_is_refused_before_a_netns_run_starts(netns_required, fake_stack_session):
    from sim.errors import InvalidInput

    sc = scenario("true", size=1, exec_extra={"isolation": "netns"},
                  faults=[{"at": "1s", "for": "5s", "target": "imds", "kind": "slow_bandwidth", "factor": 10}])
    with pytest.raises(InvalidInput, match="faults.0: slow_bandwidth on imds cannot be applied with isolation netns"):
        run(sc, stack=fake_stack_session)
    assert namespaces_of(os.getpid()) == []


# Retries the token PUT (1 s timeout, 0.5 s apart) until it gets one, then registers.
RETRY_TOKEN = r'''set -u
until T=$(curl -sSf -m 1 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token); do
  sleep 0.5
done
curl -sSf -m 15 -X POST -H 'Content-Type: application/json' -d "{\"instance_id\": \"$BOOTSTORM_INSTANCE_ID\"}" \
  "$BOOTSTORM_REGISTRY_URL/register" > /dev/null
'''


def test_a_scenario_imds_partition_holds_every_namespace_until_it_lifts(netns_required, fake_stack_session, tmp_path):
    path = tmp_path / "retry.sh"
    path.write_text(RETRY_TOKEN)
    faults = [{"at": 0, "for": "4s", "target": "imds", "kind": "partition"}]
    result = run(scenario(f"bash {path}", size=2, faults=faults, exec_extra={"isolation": "netns"}),
                 stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready", "ready"]
    (window,) = result.faults
    assert "partition setting of every instance" in " ".join(window.params.get("notes", []))
    # Nobody got a token while the partition held: ready only after it lifted.
    assert min(result.attempts.column("ready_time")) >= window.end


def test_removing_in_a_batch_survives_one_already_gone(netns_required):
    from sim.engines.exec.netns import remove_all

    spaces = [Namespace.create(f"bootstorm-{os.getpid()}-batch{i}") for i in range(3)]
    subprocess.run(["ip", "netns", "del", spaces[1].name], check=True)  # gone behind its back
    remove_all(spaces)
    assert all(ns.removed for ns in spaces)
    assert namespaces_of(os.getpid()) == []
