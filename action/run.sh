#!/usr/bin/env bash
# Run one camsctl command for the action and set its outputs.
#
# Inputs (env, from action.yml; never interpolated into this text): INPUT_COMMAND (validate,
# plan, apply, drift), INPUT_PATHS (whitespace-separated), INPUT_REGION, INPUT_MASK_NUMBERS
# (true/false), INPUT_CHANGED_SINCE, INPUT_PLAN_FILE, INPUT_MAX_ADDS, INPUT_LEDGER.
# From the runner: GITHUB_OUTPUT, RUNNER_TEMP, GITHUB_EVENT_NAME, GITHUB_BASE_REF.
#
# Outputs: exitcode (camsctl's), add, drift, unmanaged, pending (plan and drift), plan-file
# (plan), markdown (plan: the Markdown plan, for the comment step).
#
# Exit policy: camsctl's exit 1 (an error) fails the step, for every command. plan: findings
# (exit bits 2, 4, 8, 16) are the plan's content, never a failure. drift: drift (bit 4) or
# unmanaged numbers (bit 8) fail the step; numbers to add (2) or pending (16) do not.
# validate and apply: any other exit code fails the step.
set -euo pipefail

fail() {
  echo "::error title=camsctl action::$1"
  exit 1
}

# A value quoted for the log (a line break in it cannot start a workflow command).
quoted() {
  printf '%q' "$1"
}

output() {
  echo "$1=$2" >>"${GITHUB_OUTPUT}"
}

command="${INPUT_COMMAND:-}"
case "${command}" in
  validate | plan | apply | drift) ;;
  *) fail "command must be validate, plan, apply or drift, not $(quoted "${command}")" ;;
esac
case "${INPUT_MASK_NUMBERS:-true}" in
  true | false) ;;
  *) fail "mask-numbers must be true or false, not $(quoted "${INPUT_MASK_NUMBERS}")" ;;
esac
max_adds="${INPUT_MAX_ADDS:-}"
if [ -n "${max_adds}" ] && ! [[ "${max_adds}" =~ ^[0-9]+$ ]]; then
  fail "max-adds must be a whole number, not $(quoted "${max_adds}")"
fi

for value in "${INPUT_PLAN_FILE:-}" "${INPUT_LEDGER:-}" "${INPUT_CHANGED_SINCE:-}" "${INPUT_REGION:-}"; do
  # A line break would add lines of its own to GITHUB_OUTPUT.
  if [[ "${value}" == *$'\n'* || "${value}" == *$'\r'* ]]; then
    fail "plan-file, ledger, changed-since and region must be on one line"
  fi
done

# Separated by spaces or new lines; after `--` on the command line, so never read as options.
paths=()
read -r -d '' -a paths <<<"${INPUT_PATHS:-manifests/}" || true
if [ "${#paths[@]}" -eq 0 ]; then
  fail "paths is empty: give the manifests' files or folders"
fi

work="$(mktemp -d "${RUNNER_TEMP:?RUNNER_TEMP is not set}/camsctl.XXXXXX")"
global=(--no-color)
if [ -n "${INPUT_REGION:-}" ]; then
  global+=(--region "${INPUT_REGION}")
fi
mask=()
if [ "${INPUT_MASK_NUMBERS:-true}" = true ]; then
  mask=(--mask-numbers)
fi
ledger=()
if [ -n "${INPUT_LEDGER:-}" ]; then
  ledger=(--ledger "${INPUT_LEDGER}")
fi
changed_since="${INPUT_CHANGED_SINCE:-}"
if [ -z "${changed_since}" ] && [ "${command}" = plan ] \
    && [ "${GITHUB_EVENT_NAME:-}" = pull_request ] && [ -n "${GITHUB_BASE_REF:-}" ]; then
  changed_since="origin/${GITHUB_BASE_REF}"
fi
scope=()
if [ -n "${changed_since}" ]; then
  scope=(--changed-since "${changed_since}")
fi

# stdout of camsctl; `report` is the JSON plan whose summary gives the counts.
stdout="${work}/stdout"
report=""
case "${command}" in
  validate)
    args=(validate --format github -- "${paths[@]}")
    ;;
  plan)
    report="${INPUT_PLAN_FILE:-${work}/plan.json}"
    rm -f -- "${report}"  # a plan file left by an earlier run must not pass for this one's
    args=(plan --out "${report}" --format markdown --detailed-exitcode "${scope[@]}"
          "${ledger[@]}" "${mask[@]}" -- "${paths[@]}")
    ;;
  drift)
    # JSON on stdout for the counts; the Markdown report goes to the job summary (camsctl
    # writes it there itself) and annotations are printed from the JSON below.
    report="${stdout}"
    args=(drift --format json "${ledger[@]}" "${mask[@]}" -- "${paths[@]}")
    ;;
  apply)
    args=(apply --auto-approve)
    if [ -n "${INPUT_PLAN_FILE:-}" ]; then
      args+=(--plan "${INPUT_PLAN_FILE}")
    else
      args+=("${scope[@]}")
    fi
    if [ -n "${max_adds}" ]; then
      args+=(--max-adds "${max_adds}")
    fi
    args+=("${mask[@]}" -- "${paths[@]}")
    ;;
esac
if [ "${command}" != plan ] && [ "${command}" != apply ] && [ "${#scope[@]}" -gt 0 ]; then
  echo "::warning title=camsctl action::changed-since applies to plan and apply only; ignored"
fi
if [ "${command}" = apply ] && [ -n "${INPUT_PLAN_FILE:-}" ] && [ -n "${INPUT_CHANGED_SINCE:-}" ]; then
  echo "::warning title=camsctl action::changed-since is ignored with plan-file: a saved plan keeps its scope"
fi

echo "camsctl ${global[*]} ${args[*]}"
set +e
camsctl "${global[@]}" "${args[@]}" >"${stdout}"
code=$?
set -e
output exitcode "${code}"

case "${command}" in
  plan)
    echo "::group::Plan (Markdown)"
    cat "${stdout}"
    echo "::endgroup::"
    ;;
  drift) ;;
  *) cat "${stdout}" ;;
esac

if [ "${code}" -eq 1 ]; then
  fail "camsctl ${command} failed (exit 1): see the lines above"
fi

if [ -n "${report}" ]; then
  # A usage error also exits 2, like "numbers to add": only a readable plan proves a plan ran.
  if ! python "$(dirname "${BASH_SOURCE[0]}")/outputs.py" "${report}" >>"${GITHUB_OUTPUT}"; then
    fail "camsctl ${command} exited ${code} without a readable plan"
  fi
  if [ "${command}" = drift ]; then
    # Annotations for the run's page, from the JSON just read (no network).
    camsctl --no-color show "${report}" --format github "${mask[@]}" \
      || echo "::warning title=camsctl action::could not print the findings as annotations"
  else
    output plan-file "${report}"
    output markdown "${stdout}"
  fi
fi

case "${command}" in
  plan)
    exit 0
    ;;
  drift)
    if [ $((code & 12)) -ne 0 ]; then
      fail "drift (exit bit 4) or unmanaged numbers (bit 8) found: exit ${code}"
    fi
    ;;
  *)
    if [ "${code}" -ne 0 ]; then
      fail "camsctl ${command} exited ${code}"
    fi
    ;;
esac
