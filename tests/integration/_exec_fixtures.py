"""Tiny bootstrap scripts and scenarios for the exec engine's integration tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sim.scenario import parse_scenario

# Registers the instance with the registry sink, then exits 0.
REGISTER = r'''
import json, os, urllib.request
iid = os.environ["BOOTSTORM_INSTANCE_ID"]
req = urllib.request.Request(os.environ["BOOTSTORM_REGISTRY_URL"] + "/register",
    data=json.dumps({"instance_id": iid}).encode(), method="POST",
    headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
'''

# Dumps its whole environment (and whether the AWS files are empty) to $OUT/<instance id>.
DUMP_ENV = r'''
import json, os
env = dict(os.environ)
sizes = {k: os.path.getsize(env[k]) for k in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
with open(os.path.join(env["OUT"], env["BOOTSTORM_INSTANCE_ID"]), "w") as fh:
    json.dump({"env": env, "sizes": sizes, "cwd": os.getcwd()}, fh)
'''

# Fetches one secret with boto3: 1 s timeouts, no SDK retries; exit 1 on any error.
FETCH_SECRET = r'''
import boto3, sys
from botocore.config import Config
cfg = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})
try:
    boto3.client("secretsmanager", config=cfg).get_secret_value(SecretId="app/db-password")
except Exception as exc:
    print(type(exc).__name__, file=sys.stderr)
    sys.exit(1)
'''

# SSM GetParameter ``CALLS`` times back to back with boto3's standard retry mode; writes how
# many retries botocore made (``RetryAttempts``) to $OUT/<instance id>, then registers.
GET_PARAMETERS = r'''
import boto3, json, os, urllib.request
from botocore.config import Config
iid = os.environ["BOOTSTORM_INSTANCE_ID"]
ssm = boto3.client("ssm", config=Config(retries={"mode": "standard", "max_attempts": 20}))
retries = [ssm.get_parameter(Name="/app/config")["ResponseMetadata"]["RetryAttempts"]
           for _ in range(int(os.environ["CALLS"]))]
with open(os.path.join(os.environ["OUT"], iid), "w") as fh:
    json.dump(retries, fh)
req = urllib.request.Request(os.environ["BOOTSTORM_REGISTRY_URL"] + "/register",
    data=json.dumps({"instance_id": iid}).encode(), method="POST",
    headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
'''

# An agent heartbeating to telemetry every 0.2 s from the start; the script fetches its secret
# (boto3 standard retries ride out an outage), heartbeats ``AFTER`` seconds more, registers.
HEARTBEAT = r'''
import boto3, json, os, threading, time, urllib.request
from botocore.config import Config
iid = os.environ["BOOTSTORM_INSTANCE_ID"]
def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=5).read()
stop = threading.Event()
def agent():
    while not stop.is_set():
        try:
            post(os.environ["BOOTSTORM_TELEMETRY_URL"] + "/telemetry", {"instance_id": iid, "source": "agent"})
        except Exception:
            pass
        stop.wait(0.2)
threading.Thread(target=agent, daemon=True).start()
sm = boto3.client("secretsmanager", config=Config(retries={"mode": "standard", "max_attempts": 20}))
sm.get_secret_value(SecretId="app/db-password")
time.sleep(float(os.environ["AFTER"]))
post(os.environ["BOOTSTORM_REGISTRY_URL"] + "/register", {"instance_id": iid})
stop.set()
'''

# Records its pid and a background child's pid in $PIDS, then waits forever.
SLEEP_FOREVER = 'echo $$ >> "$PIDS"; sleep 1000 & echo $! >> "$PIDS"; wait'


def script(tmp_path: Path, name: str, text: str) -> str:
    """Write a Python bootstrap into ``tmp_path``; the command line that runs it."""
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return f"{sys.executable} {path}"


def scenario(command: str, *, size: int = 5, exec_extra: dict | None = None, faults=(),
             slos=(), replacement: dict | None = None, over: float = 1.0, horizon: str = "60s",
             name: str = "exec-test", fleet_extra: dict | None = None,
             dependencies_extra: dict | None = None):
    """A small scenario whose dependencies are all served by the fakes."""
    doc = {
        "name": name,
        "run": {"seed": 3, "horizon": horizon},
        "fleet": {"size": size, "arrival": {"kind": "ramp", "over": over},
                  **({"replacement": replacement} if replacement else {}), **(fleet_extra or {})},
        "dependencies": {
            "imds": {"concurrency": 1000, "service_time": "1ms",
                     "operations": {"PutToken": {}, "GetCredentials": {}}},
            "secretsmanager": {"concurrency": 100, "service_time": "20ms",
                               "operations": {"GetSecretValue": {}}},
            "registry": {"concurrency": 64, "service_time": "10ms", "operations": {"Register": {}}},
            **(dependencies_extra or {}),
        },
        "bootstrap": {"steps": [
            {"name": "token", "call": "imds.PutToken", "provides": "imds_token"},
            {"name": "creds", "call": "imds.GetCredentials", "provides": "credentials",
             "after": ["token"]},
            {"name": "secret", "call": "secretsmanager.GetSecretValue", "after": ["creds"]},
            {"name": "register", "call": "registry.Register", "after": ["secret"], "mark": "ready"},
        ]},
        "faults": list(faults),
        "slos": list(slos),
        "exec": {"command": command, "boot_timeout": 30, **(exec_extra or {})},
    }
    return parse_scenario(json.dumps(doc), file=f"<{name}>")


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a zombie holds nothing but its pid)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def read_pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split() if line.strip()]


def descendants(root_pid: int) -> set[int]:
    """Every live process whose ancestry reaches ``root_pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
    out, frontier = set(), {root_pid}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - out
        out |= frontier
    return out


def listening_ports(pids: set[int]) -> set[int]:
    """TCP ports in LISTEN state owned by ``pids`` (socket inodes from /proc/<pid>/fd)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports
