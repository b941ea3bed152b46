#!/usr/bin/env bash
# Idempotent set-up, sourced by main.sh and test.sh: a virtual environment in .venv with the course
# package installed editable plus the instructor/dev extras. Re-running is a no-op unless
# pyproject.toml changed. Override the interpreter with PYTHON=python3.12.
#
# COURSE_TORCH=cpu        install torch and torchvision from PyTorch's CPU wheel index first (CPU-only
#                         machines: with the CUDA build that the package registry serves on Linux, .venv
#                         takes about 6 GB); also replaces a CUDA build already in .venv (delete .venv first to free
#                         its space). Unset (the default, what CI installs): torch comes from the package
#                         registry like every other dependency.
# COURSE_TORCH_INDEX=URL  the CPU wheel index (default https://download.pytorch.org/whl/cpu; a mirror of it).
# COURSE_SETUP_DRY_RUN=1  print the install commands instead of running them (checks the CPU index first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.course-installed"
COURSE_TORCH="${COURSE_TORCH:-}"
COURSE_TORCH_INDEX="${COURSE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
DRY_RUN="${COURSE_SETUP_DRY_RUN:-}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"

run_or_print() {  # the command itself, or in a dry run the line that says what would run
  if [ -n "$DRY_RUN" ]; then echo "[setup] dry run: $(printf '%q ' "$@")"; else "$@"; fi
}

torch_is_cpu_build() {  # true when .venv has a torch built without CUDA or ROCm
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c \
    "import sys, torch; sys.exit(0 if torch.version.cuda is None and getattr(torch.version, 'hip', None) is None else 1)" \
    >/dev/null 2>&1
}

install_cpu_torch() {  # torch and torchvision (pyproject.toml's requirements) from $COURSE_TORCH_INDEX
  local reqs=() line
  while IFS= read -r line; do reqs+=("$line"); done < <("$PYTHON" -c '
import re, sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if re.match(r"(torch|torchvision)\s*([<>=!~;\[]|$)", d)))')
  if [ "${#reqs[@]}" -ne 2 ]; then
    echo "[setup] COURSE_TORCH=cpu: pyproject.toml should list torch and torchvision, found: ${reqs[*]:-nothing}" >&2
    exit 1
  fi
  "$PYTHON" - "$COURSE_TORCH_INDEX" <<'PY' || exit 1
import os, sys, urllib.parse, urllib.request

index = sys.argv[1].rstrip("/")
page = index + "/torch/"
try:
    if page.startswith("file:"):
        path = urllib.request.url2pathname(urllib.parse.urlparse(page).path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no folder {path}")
    else:
        urllib.request.urlopen(page, timeout=15).close()
except Exception as err:  # any failure means the same to the user: this index cannot be used
    print(
        f"[setup] COURSE_TORCH=cpu: cannot reach the CPU wheel index {index} (reading {page} failed: {err}).\n"
        "[setup] Unset COURSE_TORCH to install torch from the package registry as usual, or set "
        "COURSE_TORCH_INDEX=<url> to a mirror of https://download.pytorch.org/whl/cpu.",
        file=sys.stderr,
    )
    sys.exit(1)
PY
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip show -q torch >/dev/null 2>&1; then
    echo "[setup] COURSE_TORCH=cpu: removing .venv's torch build with CUDA or ROCm first (its nvidia-* libraries stay" \
      "until you delete .venv and rerun)"
    run_or_print "$VENV/bin/python" -m pip uninstall -q -y torch torchvision
  fi
  echo "[setup] COURSE_TORCH=cpu: installing ${reqs[*]} from $COURSE_TORCH_INDEX"
  run_or_print "$VENV/bin/python" -m pip install -q --index-url "$COURSE_TORCH_INDEX" "${reqs[@]}" || {
    echo "[setup] COURSE_TORCH=cpu: pip could not install ${reqs[*]} from $COURSE_TORCH_INDEX (see above);" \
      "unset COURSE_TORCH, or set COURSE_TORCH_INDEX=<url> to another mirror" >&2
    exit 1
  }
}

case "$COURSE_TORCH" in
  "" | cpu) ;;
  *) echo "[setup] COURSE_TORCH=$COURSE_TORCH is not a choice: set COURSE_TORCH=cpu or leave it unset" >&2; exit 1 ;;
esac
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  run_or_print "$PYTHON" -m venv "$VENV"
fi
if [ "$COURSE_TORCH" = cpu ] && ! torch_is_cpu_build; then
  install_cpu_torch
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "[setup] installing the course package and its dependencies (torch from the registry: a few minutes the first time)"
  run_or_print "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  run_or_print "$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v -e "is ignored" -e "BuildBackendWarning" || true
  if [ -z "$DRY_RUN" ]; then
    "$VENV/bin/python" -c "import course_lib, torch, torchvision, torchprofile, nbgrader, sklearn" \
      || { echo "[setup] the install is incomplete: see the pip output above" >&2; exit 1; }
    echo "$want" > "$STAMP"
  fi
fi
if [ -n "$DRY_RUN" ]; then
  echo "[setup] dry run: nothing installed"
  return 0 2>/dev/null || exit 0
fi
if [ "$COURSE_TORCH" = cpu ] && ! torch_is_cpu_build; then
  echo "[setup] COURSE_TORCH=cpu: .venv's torch is not the CPU build after the install (pip replaced it?);" \
    "rerun with COURSE_TORCH=cpu, or check which index serves torch (pip config list)" >&2
  exit 1
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
