#!/usr/bin/env bash
# Debian's Chromium for the headless browser test of the built book (Playwright drives it through
# its executable path; Playwright's own browser download cannot work offline), and the local copies
# of the scripts the pages load from CDNs (MathJax, require.js, d3, jQuery, the widget embedder),
# fetched once from the npm registry into .test-output/cdn-cache (tests/book_server.py).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
# a CJK font, so that the screenshots show the glossary's Chinese terms as a reader sees them
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]} and cannot apt-get install: the browser test will be skipped or fail" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  python3 tests/book_server.py fetch
fi
