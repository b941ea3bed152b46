#!/usr/bin/env bash
# Install bubblewrap (the grader's sandbox for student code, docs/grader_security.md) when it is missing.
# Idempotent: a second run changes nothing. Exit status 0 when bwrap works afterwards, 3 when it cannot be
# installed or does not work here (the grader then refuses to grade unless given --sandbox process).
set -euo pipefail
log() { echo "[install_sandbox] $*"; }
# shellcheck source=scripts/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

if ! command -v bwrap >/dev/null 2>&1 && [ ! -x /usr/bin/bwrap ]; then
    apt_install bubblewrap bubblewrap
fi
BWRAP="$(command -v bwrap || echo /usr/bin/bwrap)"
log "bubblewrap present: $("$BWRAP" --version)"
# The namespaces the grader uses must work here (containers may forbid them).
if [ "$(id -u)" -eq 0 ]; then extra=(--cap-add CAP_SETUID --cap-add CAP_SETGID); else extra=(--unshare-user); fi
if "$BWRAP" --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
    --unshare-net --unshare-pid --die-with-parent --dev /dev --proc /proc "${extra[@]}" /usr/bin/true; then
    log "ready: the grader will use --sandbox bubblewrap (auto)"
else
    log "bwrap is installed but cannot create namespaces here: the grader refuses to grade without"
    log "--sandbox process (process isolation only: the students' code could read the hidden tests)"
    exit 3
fi
