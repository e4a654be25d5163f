#!/usr/bin/env bash
# Debian's Chromium for the headless browser test of the built book (Playwright drives it through
# its executable path; Playwright's own browser download cannot work offline).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium not found and cannot apt-get install it: the browser test will be skipped" >&2
fi
