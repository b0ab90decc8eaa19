#!/usr/bin/env bash
# Installs what the web page's browser test needs: Debian's Chromium (driven headless by puppeteer-core; nothing
# downloads a browser). Idempotent and quick when it is already there. Exits 0 even when it cannot install
# (no root, no apt): the test then skips with a loud message.
set -uo pipefail
have() { [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ] || { [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; }; }
if have; then
  echo "install-test-deps: chromium already present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: no apt-get here; install Chromium by hand or set CHROMIUM_PATH (the browser test skips until then)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-test-deps: not root and no passwordless sudo; cannot install chromium" >&2
    exit 0
  fi
fi
LOCK=""
command -v flock >/dev/null 2>&1 && LOCK="flock /tmp/apt.lock"
export DEBIAN_FRONTEND=noninteractive
$SUDO $LOCK apt-get update -qq || true
$SUDO $LOCK apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core || {
  echo "install-test-deps: apt-get install chromium failed" >&2
  exit 0
}
have && echo "install-test-deps: installed chromium"
exit 0
