#!/usr/bin/env bash
# Install what the browser smoke test (tests/test_browser.py) needs, only when it is missing:
#   - Debian's chromium at /usr/bin/chromium (apt-get; needs root or passwordless sudo);
#   - the `playwright` Python package in the project's .venv (from PyPI; no browser download:
#     the test drives the system chromium through executable_path).
# Idempotent: a second run changes nothing. Exit status 0 when both are present afterwards.
# Override the interpreter with VENV_PYTHON=/path/to/python.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${VENV_PYTHON:-$ROOT/.venv/bin/python}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

log() { echo "[install_browser] $*"; }
# shellcheck source=scripts/apt_install.sh
source "$ROOT/scripts/apt_install.sh"

if [ ! -x "$PY" ]; then
    log "no Python at $PY (run scripts/setup.sh first, or set VENV_PYTHON)"
    exit 2
fi

if [ -x "$CHROMIUM" ]; then
    log "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    apt_install chromium chromium fonts-dejavu-core
    if [ ! -x "$CHROMIUM" ]; then
        log "apt-get finished but $CHROMIUM does not exist (on Ubuntu, chromium is a snap: use a Debian image)"
        exit 3
    fi
    log "chromium installed: $("$CHROMIUM" --version 2>/dev/null || true)"
fi

if "$PY" -c "import playwright.sync_api" 2>/dev/null; then
    log "playwright present: $("$PY" -m pip show playwright 2>/dev/null | sed -n 's/^Version: //p')"
else
    log "installing the playwright Python package into $(dirname "$(dirname "$PY")") (no browser download)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$PY" -m pip install -q "playwright>=1.40"
    "$PY" -c "import playwright.sync_api" || { log "playwright did not import after installing"; exit 3; }
fi
log "ready"
