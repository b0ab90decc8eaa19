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
# shellcheck disable=SC2086
bash "$(dirname "$0")/../../../tools/dev/apt-install.sh" \
  "install jupyter_client, nbclient and jupyter_kernel_test for $PY by hand" $PACKAGES
have && echo "install-test-deps: installed $PACKAGES"
exit 0
