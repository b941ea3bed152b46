#!/usr/bin/env bash
# The full test suite: set up, the quality gate (scripts/lint.sh: ruff, ruff format --check, mypy, release --check),
# then pytest (unit tests, hidden-test mutation checks, every solution notebook executed, the grading pipeline,
# stock nbgrader).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
bash "$ROOT/scripts/lint.sh"   # seconds; fails before the slow part
# Chromium + Playwright for the browser smoke test (bubblewrap for the sandbox comes with setup.sh).
bash "$ROOT/scripts/install_browser.sh"
python -m pytest -q -rs --durations=15 "$@"
