#!/usr/bin/env bash
# The quality gate, fast and before the tests: ruff lint, ruff format check, mypy on course_lib and the grading
# engine (settings in pyproject.toml), and `release --check` (student copies in sync with solutions/).
# Uses the tools installed in .venv by scripts/setup.sh (the dev extra); nothing is downloaded.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
for tool in ruff mypy python; do
  [ -x "$BIN/$tool" ] || { echo "[lint] $BIN/$tool is missing: run scripts/setup.sh (installs the dev extra)" >&2; exit 1; }
done
status=0
step() {  # run one check, keep going so that one run reports every failing check
  local name="$1"; shift
  echo "[lint] $name"
  "$@" || { echo "[lint] FAILED: $name" >&2; status=1; }
}
step "ruff check" "$BIN/ruff" check --output-format concise .
step "ruff format --check" "$BIN/ruff" format --check --output-format concise .  # `ruff format --diff` shows why
step "mypy" "$BIN/mypy"
step "release --check" "$BIN/python" -m autograder release --check
exit "$status"
