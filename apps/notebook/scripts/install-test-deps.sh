#!/usr/bin/env bash
# Installs what the notebook's end-to-end tests need: Debian's Jupyter client, nbclient and
# jupyter_kernel_test for /usr/bin/python3. Idempotent and quick when they are already there. Exits 0 even when it cannot
# install (no root, no apt): the test then skips with a loud message.
set -uo pipefail
PY=/usr/bin/python3
PACKAGES="python3-jupyter-client python3-nbclient python3-nbformat python3-jupyter-kernel-test"
have() { [ -x "$PY" ] && "$PY" -c 'import jupyter_client, nbclient, nbformat, jupyter_kernel_test' >/dev/null 2>&1; }
if have; then
  echo "install-test-deps: $PACKAGES already present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: no apt-get here; install jupyter_client, nbclient and jupyter_kernel_test for $PY by hand" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-test-deps: not root and no passwordless sudo; cannot install $PACKAGES" >&2
    exit 0
  fi
fi
LOCK=""
command -v flock >/dev/null 2>&1 && LOCK="flock /tmp/apt.lock"
export DEBIAN_FRONTEND=noninteractive
$SUDO $LOCK apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO $LOCK apt-get install -y -qq --no-install-recommends $PACKAGES || {
  echo "install-test-deps: apt-get install failed" >&2
  exit 0
}
have && echo "install-test-deps: installed $PACKAGES"
exit 0
