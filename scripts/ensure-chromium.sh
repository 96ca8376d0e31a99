#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright cannot download its own here).
# Installs it when missing and we are allowed to; otherwise says how.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  (apt-get install -y -qq chromium >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq chromium >/dev/null
  }
  exit 0
fi
echo "warning: /usr/bin/chromium is missing; browser tests will be skipped." >&2
echo "         install it with: sudo apt-get install chromium" >&2
