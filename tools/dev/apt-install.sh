#!/usr/bin/env bash
# Installs Debian packages for a test that needs them, or says why it cannot, and never fails the caller:
#   bash tools/dev/apt-install.sh "<what to do by hand>" package...
# Root or passwordless sudo, apt-get, and a lock (flock /tmp/apt.lock) so parallel callers do not collide.
# Exits 0 in every case; the caller checks what it needs afterwards (tests then skip, loudly).
set -uo pipefail
hint=$1
shift
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: no apt-get here; $hint" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-test-deps: not root and no passwordless sudo; cannot install $*" >&2
    exit 0
  fi
fi
LOCK=""
command -v flock >/dev/null 2>&1 && LOCK="flock /tmp/apt.lock"
export DEBIAN_FRONTEND=noninteractive
$SUDO $LOCK apt-get update -qq || true
$SUDO $LOCK apt-get install -y -qq --no-install-recommends "$@" || echo "install-test-deps: apt-get install $* failed" >&2
exit 0
