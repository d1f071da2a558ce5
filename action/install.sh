#!/usr/bin/env bash
# Install camsctl for the action's later steps.
#
# CAMSCTL_VERSION (the `camsctl-version` input):
#   empty         the version of this action's own release (pyproject.toml beside action.yml)
#   1.2.3         cams-reconciler==1.2.3 from PyPI
#   path:DIR      the source tree DIR (a checkout, for forks and tests)
set -euo pipefail

action_root="${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
version="${CAMSCTL_VERSION:-}"

case "${version}" in
  path:*)
    source_dir="${version#path:}"
    if [ ! -d "${source_dir}" ]; then
      echo "::error title=camsctl action::camsctl-version: ${source_dir} is not a directory"
      exit 1
    fi
    requirement="${source_dir}"
    ;;
  "")
    version="$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "${action_root}/pyproject.toml" | head -n 1)"
    if [ -z "${version}" ]; then
      echo "::error title=camsctl action::no version in ${action_root}/pyproject.toml; set camsctl-version"
      exit 1
    fi
    requirement="cams-reconciler==${version}"
    ;;
  *)
    # A version number only: anything else (a URL, an option, a second requirement) is refused.
    if ! [[ "${version}" =~ ^[0-9][0-9A-Za-z.+!-]*$ ]]; then
      echo "::error title=camsctl action::camsctl-version must be a version such as 0.1.0, or path:DIR"
      exit 1
    fi
    requirement="cams-reconciler==${version}"
    ;;
esac

echo "Installing ${requirement}"
python -m pip install --disable-pip-version-check --quiet "${requirement}"
