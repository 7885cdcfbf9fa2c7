#!/usr/bin/env bash
# Installs Debian's chromium for the app's headless browser test (tests/python/test_app_browser.py).
# Never uses `playwright install`: the test drives the distribution's binary at /usr/bin/chromium.
# Idempotent: does nothing when chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "chromium is missing and this user cannot install packages (not root, no sudo)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
/usr/bin/chromium --version
