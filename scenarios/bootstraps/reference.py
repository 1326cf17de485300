#!/usr/bin/env python3
"""Reference bootstrap: what a careful instance bootstrap does, measured by the exec engine.

Steps (each one a bounded call: full-jitter backoff from ``sim.policies`` and a deadline):

    imds_token     PUT latest/api/token (IMDSv2), urllib with a timeout
    identity       GET latest/dynamic/instance-identity/document
    agent          telemetry {source: agent}: the agent starts before the app
    credentials    boto3 resolves role credentials from IMDS itself (and refreshes them)
    secret         Secrets Manager GetSecretValue -> <root>/secrets/db-password, mode 0600
    config         SSM GetParameter -> <root>/app/config
    app            telemetry {source: app}
    register       POST /register, Idempotency-Key = the instance id (stable across runs)

botocore's own retries are off (one attempt per SDK call); our policy decides when to retry.
Logs are JSON lines on stderr with a correlation id (instance id / run id); secret values are
never logged or printed. A marker file makes a second run on the same root skip the one-time
work and register again with the same key, which the registry counts as a duplicate, not a new
member. Exit 0: ready. Exit 1: failed, with a last JSON line naming the step and error code.

Environment: the bootstorm instance contract (``AWS_EC2_METADATA_SERVICE_ENDPOINT``,
``AWS_ENDPOINT_URL*``, ``AWS_REGION``, ``BOOTSTORM_*``); ``BOOTSTORM_CALL_DEADLINE`` (seconds,
default 15) bounds each AWS call, retries included.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from http.client import HTTPException

from sim.policies import GIVE_UP, GiveUp, RetryPolicy, classify

TOKEN_TTL_SECONDS = 21600
IMDS_TIMEOUT = 2.0  # IMDS answers in milliseconds; two seconds means it is not answering
SINK_TIMEOUT = 2.0
AWS_CONNECT_TIMEOUT = 1.0
AWS_READ_TIMEOUT = 5.0
AWS_MIN_ATTEMPT = 0.25  # read timeouts come in quarter seconds (one client per step)
MARKER = ".bootstorm/reference.done"
IMDS_POLICY = {"kind": "full_jitter", "base": 0.1, "cap": 1.0, "max_attempts": 5, "deadline": 10.0}
SINK_POLICY = {"kind": "full_jitter", "base": 0.2, "cap": 2.0, "max_attempts": 5, "deadline": 10.0}


def aws_policy_spec() -> dict:
    # Patient enough to ride out a throttled minute, spread enough not to make it worse.
    deadline = float(os.environ.get("BOOTSTORM_CALL_DEADLINE") or 60.0)
    return {"kind": "full_jitter", "base": 0.5, "cap": 8.0, "max_attempts": 10, "deadline": deadline}


class AttemptFailed(Exception):
    """One attempt failed; carries what `classify` needs and a code for the logs."""

    def __init__(self, code: str, status: int | None = None, timeout: bool = False,
                 connection: bool = False, credentials: bool = False):
        super().__init__(code)
        self.code, self.status, self.timeout, self.connection = code, status, timeout, connection
        self.credentials = credentials


class StepFailed(Exception):
    def __init__(self, step: str, code: str, message: str):
        super().__init__(message)
        self.step, self.code = step, code


class Log:
    """JSON lines on stderr; every line carries the correlation id."""

    def __init__(self, instance_id: str, run_id: str):
        self.base = {"instance_id": instance_id, "run_id": run_id, "correlation_id": f"{instance_id}/{run_id}"}

    def __call__(self, level: str, event: str, **fields) -> None:
        line = {"time": round(time.time(), 6), "level": level, "event": event, **self.base, **fields}
        print(json.dumps(line, sort_keys=True), file=sys.stderr, flush=True)


class Retrier:
    """Runs attempts under one `RetryPolicy`; one client state per dependency, kept for the run."""

    def __init__(self, spec: dict, log: Log, rng: random.Random, min_attempt: float = 0.05):
        self.policy = RetryPolicy.from_spec(spec)
        self.client = self.policy.new_client()
        self.log, self.rng = log, rng
        self.min_attempt = min_attempt  # an attempt given less time than this cannot succeed

    def run(self, step: str, attempt, timeout: float, on_credentials=None):
        """``attempt(timeout)`` until it returns, the policy gives up (StepFailed) or the deadline."""
        call = self.policy.begin(self.client, time.monotonic())
        self.log("debug", "step_started", step=step, deadline=self.policy.deadline)
        last: AttemptFailed | None = None
        refreshed, made = False, 0
        while True:
            wait = call.before_attempt(time.monotonic())
            if not isinstance(wait, GiveUp) and call.remaining(time.monotonic()) < self.min_attempt + wait:
                wait = GIVE_UP["deadline"]
            if isinstance(wait, GiveUp):
                raise StepFailed(step, last.code if last else wait.reason,
                                 f"{wait.reason} after {made} attempt(s)")
            if wait:
                time.sleep(wait)
            made += 1
            try:
                # No attempt may outlive the call's deadline.
                result = attempt(max(self.min_attempt, min(timeout, call.remaining(time.monotonic()))))
            except AttemptFailed as exc:
                last = exc
                if exc.credentials and on_credentials is not None and not refreshed:
                    # Expired keys are not retried by the policy: get new ones, then try again.
                    refreshed = True
                    self.log("warning", "credentials_refresh", step=step, error_code=exc.code)
                    on_credentials()
                    continue
                error = classify(exc.code, exc.status, timeout=exc.timeout, connection=exc.connection)
                delay = call.on_failure(time.monotonic(), error, self.rng)
                if isinstance(delay, GiveUp):
                    raise StepFailed(step, exc.code, f"{delay.reason} after {made} attempt(s) "
                                                     f"(last error {exc.code}, {error.kind})") from None
                self.log("warning", "retry", step=step, attempt=made, error_code=exc.code,
                         error_class=error.kind, delay=round(delay, 3))
                time.sleep(delay)
            else:
                call.on_success(time.monotonic())
                return result


# HTTP (IMDS and the sinks) -----------------------------------------------------------------
# Loopback services only: never route through a proxy the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, timeout: float, body: dict | None = None,
         headers: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        exc.close()
        # IMDS and the sinks send no AWS error code; 429 is their throttle.
        raise AttemptFailed("Throttling" if exc.code == 429 else f"HTTP{exc.code}", status=exc.code) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            raise AttemptFailed("Timeout", timeout=True) from None
        raise AttemptFailed("ConnectionError", connection=True) from None
    except (socket.timeout, TimeoutError):
        raise AttemptFailed("Timeout", timeout=True) from None
    except (OSError, HTTPException):
        raise AttemptFailed("ConnectionError", connection=True) from None


class Imds:
    def __init__(self, base: str, retrier: Retrier):
        self.base = base if base.endswith("/") else base + "/"
        self.retrier = retrier
        self.token: str | None = None

    def fetch_token(self) -> None:
        def attempt(timeout):
            return http("PUT", self.base + "latest/api/token", timeout,
                        headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)}).decode()
        self.token = self.retrier.run("imds_token", attempt, IMDS_TIMEOUT)

    def get(self, step: str, path: str) -> str:
        def attempt(timeout):
            if self.token is None:
                self.fetch_token()
            try:
                return http("GET", self.base + path, timeout, headers={"X-aws-ec2-metadata-token": self.token}).decode()
            except AttemptFailed as exc:
                if exc.status == 401:  # the token expired or was revoked: a new one, then again
                    self.token = None
                    raise AttemptFailed("Unauthorized", connection=True) from None
                raise
        return self.retrier.run(step, attempt, IMDS_TIMEOUT)


# AWS ----------------------------------------------------------------------------------------
class Aws:
    """boto3 clients with botocore retries off; credentials come from IMDS via boto3's provider."""

    def __init__(self, region: str, retrier: Retrier):
        self.region, self.retrier = region, retrier
        self._new_session()

    def _new_session(self) -> None:
        import boto3
        import botocore.session

        core = botocore.session.get_session()
        # The credential provider's own IMDS calls: short, and few (our policy retries).
        core.set_config_variable("metadata_service_timeout", IMDS_TIMEOUT)
        core.set_config_variable("metadata_service_num_attempts", 2)
        self.session = boto3.session.Session(botocore_session=core, region_name=self.region)
        self.clients: dict[tuple[str, float], object] = {}

    def _client(self, service: str, read_timeout: float):
        from botocore.config import Config

        # Quarter-second steps, rounded down: few clients, and never past the call's deadline.
        read_timeout = max(AWS_MIN_ATTEMPT, int(read_timeout * 4) / 4)
        key = (service, read_timeout)
        if key not in self.clients:
            config = Config(connect_timeout=min(AWS_CONNECT_TIMEOUT, read_timeout), read_timeout=read_timeout,
                            retries={"total_max_attempts": 1, "mode": "standard"})
            self.clients[key] = self.session.client(service, config=config)
        return self.clients[key]

    def credentials(self) -> str:
        def attempt(timeout):
            credentials = self.session.get_credentials()
            if credentials is None:  # IMDS did not answer the provider: worth another try
                raise AttemptFailed("NoCredentials", connection=True)
            frozen = credentials.get_frozen_credentials()
            return getattr(credentials, "method", "unknown") if frozen.access_key else "none"
        return self.retrier.run("credentials", attempt, IMDS_TIMEOUT * 3)

    def call(self, step: str, service: str, operation: str, **params):
        import botocore.exceptions as bx

        self._client(service, AWS_READ_TIMEOUT)  # built before the clock starts: it loads models

        def attempt(timeout):
            client = self._client(service, min(AWS_READ_TIMEOUT, timeout))
            try:
                return getattr(client, operation)(**params)
            except bx.ClientError as exc:
                error = exc.response.get("Error", {})
                code = error.get("Code") or "Unknown"
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                expired = code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired")
                raise AttemptFailed(code, status=status, credentials=expired) from None
            except (bx.ReadTimeoutError, bx.ConnectTimeoutError):
                raise AttemptFailed("Timeout", timeout=True) from None
            except (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.HTTPClientError):
                raise AttemptFailed("ConnectionError", connection=True) from None
            except bx.NoCredentialsError:
                raise AttemptFailed("NoCredentials", connection=True) from None
        return self.retrier.run(step, attempt, AWS_READ_TIMEOUT, on_credentials=self._new_session)


# files --------------------------------------------------------------------------------------
def write_private(path: str, data: str) -> None:
    """Write ``data`` owner-only (0600), atomically: readers see the old file or the new one."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask said
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise StepFailed("environment", "MissingEnvironment", f"{name}: expected a non-empty value, got none")
    return value


# the bootstrap ------------------------------------------------------------------------------
def bootstrap(log: Log, rng: random.Random, run_id: str) -> dict:
    root = require("BOOTSTORM_INSTANCE_ROOT")
    instance_id = require("BOOTSTORM_INSTANCE_ID")
    secret_id = os.environ.get("BOOTSTORM_SECRET_ID") or "app/db-password"
    parameter = os.environ.get("BOOTSTORM_PARAMETER") or "/app/config"
    registry = require("BOOTSTORM_REGISTRY_URL").rstrip("/")
    telemetry = require("BOOTSTORM_TELEMETRY_URL").rstrip("/")
    marker_path = os.path.join(root, MARKER)
    secret_path = os.path.join(root, "secrets", "db-password")
    config_path = os.path.join(root, "app", "config")
    done_before = os.path.exists(marker_path) and os.path.exists(secret_path) and os.path.exists(config_path)

    imds = Imds(require("AWS_EC2_METADATA_SERVICE_ENDPOINT"), Retrier(IMDS_POLICY, log, rng))
    sinks = Retrier(SINK_POLICY, log, rng)
    imds.fetch_token()
    log("info", "step_done", step="imds_token")
    document = json.loads(imds.get("identity", "latest/dynamic/instance-identity/document"))
    if document.get("instanceId") != instance_id:
        raise StepFailed("identity", "IdentityMismatch",
                         f"instance identity document: expected instanceId {instance_id}, got {document.get('instanceId')!r}")
    region = document.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
    log("info", "step_done", step="identity", region=region)

    def report(step: str, source: str, kind: str) -> None:
        body = {"instance_id": instance_id, "source": source, "kind": kind, "run_id": run_id}
        try:
            sinks.run(step, lambda timeout: http("POST", telemetry + "/telemetry", timeout, body), SINK_TIMEOUT)
            log("info", "step_done", step=step)
        except StepFailed as exc:  # telemetry is worth having, not worth failing a boot over
            log("warning", "telemetry_lost", step=step, error_code=exc.code, message=str(exc))

    report("agent", "agent", "agent_started")

    if done_before:
        os.chmod(secret_path, 0o600)  # whatever touched it since, it stays owner-only
        log("info", "step_skipped", step="secret", reason="marker present")
    else:
        aws = Aws(region, Retrier(aws_policy_spec(), log, rng, min_attempt=AWS_MIN_ATTEMPT))
        log("info", "step_done", step="credentials", provider=aws.credentials())
        secret = aws.call("secret", "secretsmanager", "get_secret_value", SecretId=secret_id)["SecretString"]
        write_private(secret_path, secret)
        del secret
        log("info", "step_done", step="secret", secret_id=secret_id, path=secret_path)
        value = aws.call("config", "ssm", "get_parameter", Name=parameter)["Parameter"]["Value"]
        write_private(config_path, value)
        log("info", "step_done", step="config", parameter=parameter, bytes=len(value))

    report("app", "app", "app_started")

    body = {"instance_id": instance_id, "idempotency_key": instance_id, "run_id": run_id}
    answer = json.loads(sinks.run("register", lambda timeout: http(
        "POST", registry + "/register", timeout, body, headers={"Idempotency-Key": instance_id}), SINK_TIMEOUT))
    log("info", "step_done", step="register", duplicate=bool(answer.get("duplicate")))
    if not done_before:  # the marker records the first completion; a rerun leaves the disk as it was
        write_private(marker_path, json.dumps({"run_id": run_id, "completed_at": time.time(),
                                               "idempotency_key": instance_id}))
    return {"rerun": done_before, "duplicate": bool(answer.get("duplicate"))}


def main() -> int:
    run_id = uuid.uuid4().hex
    instance_id = os.environ.get("BOOTSTORM_INSTANCE_ID") or "unknown"
    log = Log(instance_id, run_id)
    # Seeded per instance and run: instances must not share a jitter sequence.
    rng = random.Random(f"{os.environ.get('BOOTSTORM_SEED', run_id)}/{instance_id}")
    started = time.monotonic()
    log("info", "bootstrap_started")
    try:
        outcome = bootstrap(log, rng, run_id)
    except StepFailed as exc:
        log("error", "bootstrap_failed", step=exc.step, error_code=exc.code, message=str(exc),
            elapsed=round(time.monotonic() - started, 3))
        return 1
    except Exception as exc:  # a bug or an unexpected answer: still one clear line, still exit 1
        log("error", "bootstrap_failed", step="unexpected", error_code=type(exc).__name__,
            message=str(exc)[:300], elapsed=round(time.monotonic() - started, 3))
        return 1
    log("info", "ready", elapsed=round(time.monotonic() - started, 3), **outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
