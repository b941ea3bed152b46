#!/usr/bin/env bash
# Idempotent set-up, sourced by main.sh and test.sh: a virtual environment in .venv with the course
# package installed editable plus the instructor/dev extras. Re-running is a no-op unless
# pyproject.toml changed. Override the interpreter with PYTHON=python3.12.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.course-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "[setup] installing the course package and its dependencies (torch from the registry: a few minutes the first time)"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  "$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v -e "is ignored" -e "BuildBackendWarning" || true
  "$VENV/bin/python" -c "import course_lib, torch, torchvision, torchprofile, nbgrader, sklearn" \
    || { echo "[setup] the install is incomplete: see the pip output above" >&2; exit 1; }
  echo "$want" > "$STAMP"
fi
# The grader's sandbox (bubblewrap, Debian package); without it the grader refuses to grade unless given
# --sandbox process (explicit consent to process isolation only).
bash "$ROOT/scripts/install_sandbox.sh" >/dev/null 2>&1 \
  || echo "[setup] bubblewrap unavailable: grade with --sandbox process, or see docs/grader_security.md"
export PATH="$VENV/bin:$PATH"   # nbgrader shells out to alembic, which must be on PATH
export COURSE_SIZE="${COURSE_SIZE:-small}"
export TQDM_MININTERVAL="${TQDM_MININTERVAL:-10}"
export MPLBACKEND="${MPLBACKEND:-Agg}"
echo "[setup] ready: $("$VENV/bin/python" -c 'import sys, torch, course_lib; print(f"python {sys.version.split()[0]}, torch {torch.__version__}, course_lib {course_lib.__version__}")'), COURSE_SIZE=$COURSE_SIZE"
