# Sourced by scripts/install_*.sh (which define `log`). `apt_install WHAT PACKAGE...` installs Debian packages
# with apt-get, as root or through passwordless sudo, waiting for another apt/dpkg run instead of failing on its
# lock. When this user cannot install packages here it logs why and exits the calling script with status 3.
apt_install() {
    local what="$1" sudo=""
    shift
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            log "$what is missing and this user cannot run apt-get (not root, no passwordless sudo)"
            exit 3
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "$what is missing and apt-get is not available (install the Debian package(s) $* by hand)"
        exit 3
    fi
    log "installing $what with apt-get (a few minutes the first time)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -q
    $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@"
}
