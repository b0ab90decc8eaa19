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
bash "$(dirname "$0")/../../../tools/dev/apt-install.sh" \
  "install Chromium by hand or set CHROMIUM_PATH (the browser test skips until then)" chromium fonts-dejavu-core
have && echo "install-test-deps: installed chromium"
exit 0
