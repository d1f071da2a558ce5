#!/usr/bin/env bash
# Get the job's GitHub OIDC token for Alibaba Cloud STS (audience sts.aliyuncs.com), write it
# to a file only this user can read, and point camsctl at it through GITHUB_ENV. camsctl then
# exchanges it (AssumeRoleWithOIDC) for a temporary key of ROLE_ARN.
#
# Inputs (env): ROLE_ARN, OIDC_PROVIDER_ARN, REGION (optional), CAMSCTL_COMMAND (for the
# session name). From the runner: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN (present only with
# `permissions: id-token: write`), RUNNER_TEMP, GITHUB_ENV, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT.
set -euo pipefail

if [ -z "${OIDC_PROVIDER_ARN:-}" ]; then
  echo "::error title=camsctl action::role-arn is set but oidc-provider-arn is not: give both (the RAM OIDC provider of GitHub)"
  exit 1
fi
# Each value becomes a line of GITHUB_ENV: one with a space or a line break could add others.
for value in "${ROLE_ARN:-}" "${OIDC_PROVIDER_ARN}" "${REGION:-x}"; do
  if ! [[ "${value}" =~ ^[[:graph:]]+$ ]]; then
    echo "::error title=camsctl action::role-arn, oidc-provider-arn and region must not be empty or hold spaces or control characters"
    exit 1
  fi
done
if [ -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] || [ -z "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
  echo "::error title=camsctl action::no OIDC token available: give the job 'permissions: id-token: write' (and contents: read)"
  exit 1
fi

response="$(curl --silent --show-error --fail --retry 3 --max-time 30 \
  -H "Authorization: bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \
  "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.aliyuncs.com")" || {
  echo "::error title=camsctl action::the GitHub OIDC token request failed"
  exit 1
}
token="$(printf '%s' "${response}" | python -c \
  'import json, sys; value = json.load(sys.stdin).get("value"); print(value if isinstance(value, str) else "")' \
  2>/dev/null)" || token=""
if [ -z "${token}" ]; then
  echo "::error title=camsctl action::the GitHub OIDC token answer has no token"
  exit 1
fi
echo "::add-mask::${token}"

token_file="$(umask 077 && mktemp "${RUNNER_TEMP}/camsctl-oidc-token.XXXXXX")"
printf '%s' "${token}" >"${token_file}"
chmod 600 "${token_file}"

session="camsctl-${CAMSCTL_COMMAND:-run}-${GITHUB_RUN_ID:-0}-${GITHUB_RUN_ATTEMPT:-1}"
{
  echo "ALIBABA_CLOUD_OIDC_TOKEN_FILE=${token_file}"
  echo "ALIBABA_CLOUD_ROLE_ARN=${ROLE_ARN}"
  echo "ALIBABA_CLOUD_OIDC_PROVIDER_ARN=${OIDC_PROVIDER_ARN}"
  echo "ALIBABA_CLOUD_ROLE_SESSION_NAME=${session:0:64}"
  if [ -n "${REGION:-}" ]; then
    echo "ALIBABA_CLOUD_REGION_ID=${REGION}"
  fi
} >>"${GITHUB_ENV}"
echo "OIDC token for STS written (role ${ROLE_ARN}, session ${session:0:64})"
