#!/usr/bin/env bash
# naive.sh: a bootstrap as it is often first written. It works when nothing is wrong;
# every comment tagged "WRONG:" is a seed anti-pattern bootstorm is here to measure.
# Do not copy this script; see awscli.sh and reference.py for the fixed versions.
#
# Environment: the bootstorm instance contract (AWS_EC2_METADATA_SERVICE_ENDPOINT,
# AWS_ENDPOINT_URL*, AWS_REGION, BOOTSTORM_*). Needs bash, curl, sed and the AWS CLI.

# WRONG: no `set -euo pipefail`: a failed step does not stop the script, and it still
# reports success at the end.

IMDS="${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}"
ROOT="${BOOTSTORM_INSTANCE_ROOT:-$HOME}"
INSTANCE_ID="$BOOTSTORM_INSTANCE_ID"
SECRET_ID="${BOOTSTORM_SECRET_ID:-app/db-password}"
PARAMETER="${BOOTSTORM_PARAMETER:-/app/config}"

# WRONG: the app is reported before the agent that is supposed to watch it is up, so the
# first minutes of the app's life have no metrics (initial_metric_gap).
curl -s -X POST -H 'Content-Type: application/json' \
  -d "{\"instance_id\":\"$INSTANCE_ID\",\"source\":\"app\",\"kind\":\"app_started\"}" \
  "$BOOTSTORM_TELEMETRY_URL/telemetry" >/dev/null

# WRONG: a tight retry loop with no sleep and no limit: under an IMDS outage every instance
# hammers it as fast as its CPU allows. WRONG: curl without --max-time: a partition hangs
# here forever. (Without --fail, an HTTP error page even counts as a token.)
TOKEN=""
until [ -n "$TOKEN" ]; do
  TOKEN=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "$IMDS/latest/api/token")
done

ROLE=""
until [ -n "$ROLE" ]; do
  ROLE=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/iam/security-credentials/")
done

# WRONG: credentials copied out of IMDS into environment variables: they never refresh, so
# a long boot outlives them (ExpiredToken), and every child process inherits them.
# WRONG: `export X="$(...)"` hides a failed substitution (shellcheck SC2155).
CREDS=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" \
  "$IMDS/latest/meta-data/iam/security-credentials/$ROLE")
field() { printf '%s' "$CREDS" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"; }
export AWS_ACCESS_KEY_ID="$(field AccessKeyId)"
export AWS_SECRET_ACCESS_KEY="$(field SecretAccessKey)"
export AWS_SESSION_TOKEN="$(field Token)"

# WRONG: legacy retry mode (no retry quota: a fleet retries without limit under throttling)
# and --cli-read-timeout 0: no read timeout at all, a stalled Secrets Manager hangs the boot.
export AWS_RETRY_MODE=legacy
SECRET=$(aws secretsmanager get-secret-value --secret-id "$SECRET_ID" \
  --query SecretString --output text --cli-read-timeout 0)

# WRONG: the secret in the boot log (stdout ends up in the console output and log shipping).
echo "db password: $SECRET"

# WRONG: the secret in a world-readable file.
mkdir -p "$ROOT/secrets"
echo "$SECRET" > "$ROOT/secrets/db-password"
chmod 644 "$ROOT/secrets/db-password"

# WRONG: appends on every run: a second boot doubles the config.
CONFIG=$(aws ssm get-parameter --name "$PARAMETER" --query Parameter.Value --output text \
  --cli-read-timeout 0)
mkdir -p "$ROOT/app"
echo "$CONFIG" >> "$ROOT/app/config"

curl -s -X POST -H 'Content-Type: application/json' \
  -d "{\"instance_id\":\"$INSTANCE_ID\",\"source\":\"agent\",\"kind\":\"agent_started\"}" \
  "$BOOTSTORM_TELEMETRY_URL/telemetry" >/dev/null

# WRONG: a fresh random idempotency key every run, so a retried or repeated boot registers
# again instead of being recognised as the same instance.
KEY="$RANDOM$RANDOM-$(date +%s%N)"
until curl -s -X POST -H 'Content-Type: application/json' -H "Idempotency-Key: $KEY" \
  -d "{\"instance_id\":\"$INSTANCE_ID\",\"idempotency_key\":\"$KEY\"}" \
  "$BOOTSTORM_REGISTRY_URL/register" >/dev/null; do
  sleep 0.1  # WRONG: a fixed 0.1 s between retries, no jitter, no limit
done

echo "bootstrap done"
