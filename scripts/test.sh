#!/usr/bin/env bash
# The full test suite: set up, check the release is in sync with solutions/, run pytest (unit tests,
# hidden-test mutation checks, every solution notebook executed, the grading pipeline, stock nbgrader).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
# Chromium + Playwright for the browser smoke test (bubblewrap for the sandbox comes with setup.sh).
bash "$ROOT/scripts/install_browser.sh"
python -m autograder release --check
python -m pytest -q -rs --durations=15 "$@"
