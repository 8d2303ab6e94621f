# Sourced first by the scripts that install Debian packages or run Asterisk in its chroot, which
# is root's work: run as a user, such a script runs itself again under sudo; run as root (sudo
# or not installed) it just goes on. So the README's commands are the same for both.
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "$0: needs root: run it as root (sudo is not installed here)" >&2
        exit 1
    fi
    exec sudo -- "$0" "$@"
fi
