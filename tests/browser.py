"""A headless Chromium page for tests that check HTML a notebook produces (quizzes, in-page
controls): Debian's chromium driven by Playwright; the test is skipped where either is missing."""
from __future__ import annotations

import contextlib
import os
import shutil

import pytest


def chromium_path() -> str | None:
    """Debian's chromium (apt-get install chromium); $BOOK_TEST_CHROMIUM overrides."""
    return os.environ.get("BOOK_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def html_page(html: str, viewport: dict | None = None):
    """Yield ``(page, errors)``: a page showing ``html`` (a fragment, or a whole ``<html>`` document)
    and the list of script errors it raised."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("chromium not found (.ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(**({"viewport": viewport} if viewport else {}))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content(html if html.lstrip().startswith("<html") else f"<html><body>{html}</body></html>")
            yield page, errors
        finally:
            browser.close()
