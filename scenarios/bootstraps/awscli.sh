#!/usr/bin/env bash
# awscli.sh: a careful bootstrap in bash with curl and the AWS CLI (v1 from PyPI `awscli`,
# or v2: the flags used here exist in both).
#
#   every IMDS call:   curl --max-time, --retry with curl's exponential backoff, --fail
#   every AWS call:    --cli-connect-timeout/--cli-read-timeout, AWS_RETRY_MODE=standard,
#                      AWS_MAX_ATTEMPTS; credentials from IMDS by the CLI itself (refreshed)
#   secrets:           never printed, written owner-only (umask 077), atomically
#   idempotent:        a marker file skips the one-time work on a second run; registration
#                      uses a stable idempotency key (the instance id) and comes last
#   order:             agent started (telemetry) before the app
#   exit code:         0 ready; non-zero, with a line on stderr naming the step, on failure
#
# Environment: the bootstorm instance contract (AWS_EC2_METADATA_SERVICE_ENDPOINT,
# AWS_ENDPOINT_URL*, AWS_REGION, BOOTSTORM_*).
set -Eeuo pipefail  # -E: the ERR trap below also fires inside functions
umask 077

: "${AWS_EC2_METADATA_SERVICE_ENDPOINT:?expected the instance IMDS base URL}"
: "${BOOTSTORM_INSTANCE_ID:?expected the instance id}"
: "${BOOTSTORM_REGISTRY_URL:?expected the registry URL}"
: "${BOOTSTORM_TELEMETRY_URL:?expected the telemetry URL}"
IMDS="${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}"
ROOT="${BOOTSTORM_INSTANCE_ROOT:-$HOME}"
INSTANCE_ID="$BOOTSTORM_INSTANCE_ID"
SECRET_ID="${BOOTSTORM_SECRET_ID:-app/db-password}"
PARAMETER="${BOOTSTORM_PARAMETER:-/app/config}"
MARKER="$ROOT/.bootstorm/awscli.done"

# The CLI's own retries: standard mode has a retry quota; 4 attempts in all.
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=4
# The CLI's credential provider talks to IMDS too: bounded there as well.
export AWS_METADATA_SERVICE_TIMEOUT=2 AWS_METADATA_SERVICE_NUM_ATTEMPTS=3
AWS_TIMEOUTS=(--cli-connect-timeout 2 --cli-read-timeout 5)
# curl: 2 s per attempt, 5 retries with curl's doubling backoff (1, 2, 4, 8 s), 20 s in all.
# The loopback services are never reached through a proxy the environment may name.
CURL=(curl --silent --show-error --fail --noproxy '*' --max-time 2
      --retry 5 --retry-connrefused --retry-max-time 20)

STEP=start
trap 'echo "bootstrap failed: step=$STEP exit=$?" >&2' ERR

log() { echo "awscli.sh[$INSTANCE_ID] $*" >&2; }

post_json() {  # post_json URL JSON [extra curl args...]
  local url="$1" body="$2"
  shift 2
  "${CURL[@]}" -X POST -H 'Content-Type: application/json' "$@" -d "$body" "$url" >/dev/null
}

telemetry() {  # telemetry SOURCE KIND: worth having, not worth failing a boot over
  post_json "$BOOTSTORM_TELEMETRY_URL/telemetry" \
    "{\"instance_id\":\"$INSTANCE_ID\",\"source\":\"$1\",\"kind\":\"$2\"}" --retry-max-time 5 \
    || log "step=$STEP: telemetry lost (continuing)"
}

STEP=imds_token
TOKEN=$("${CURL[@]}" -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "$IMDS/latest/api/token")

STEP=identity
IMDS_ID=$("${CURL[@]}" -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id")
if [ "$IMDS_ID" != "$INSTANCE_ID" ]; then
  log "step=identity: expected instance id $INSTANCE_ID from IMDS, got $IMDS_ID"
  exit 1
fi

STEP=agent
telemetry agent agent_started

if [ -f "$MARKER" ] && [ -f "$ROOT/secrets/db-password" ] && [ -f "$ROOT/app/config" ]; then
  log "marker present: secret and config already in place"
else
  mkdir -p "$ROOT/secrets" "$ROOT/app" "$ROOT/.bootstorm"
  STEP=secret
  # Straight from the CLI into a 0600 temp file, then renamed: the value never passes
  # through a shell variable, the terminal or the log.
  aws "${AWS_TIMEOUTS[@]}" secretsmanager get-secret-value --secret-id "$SECRET_ID" \
    --query SecretString --output text > "$ROOT/secrets/db-password.tmp"
  mv -f "$ROOT/secrets/db-password.tmp" "$ROOT/secrets/db-password"
  log "secret $SECRET_ID written to $ROOT/secrets/db-password"

  STEP=config
  aws "${AWS_TIMEOUTS[@]}" ssm get-parameter --name "$PARAMETER" \
    --query Parameter.Value --output text > "$ROOT/app/config.tmp"
  mv -f "$ROOT/app/config.tmp" "$ROOT/app/config"  # replaced, never appended
fi

STEP=app
telemetry app app_started

STEP=register
post_json "$BOOTSTORM_REGISTRY_URL/register" \
  "{\"instance_id\":\"$INSTANCE_ID\",\"idempotency_key\":\"$INSTANCE_ID\"}" \
  -H "Idempotency-Key: $INSTANCE_ID"

# The marker records the first completion; a second run leaves the disk exactly as it was.
[ -f "$MARKER" ] || date -u +%Y-%m-%dT%H:%M:%SZ > "$MARKER"
log "ready"
