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


@contextlib.contextmanager
def html_page(html: str):
    """Yield ``(page, errors)``: a page showing ``html`` and the list of script errors it raised."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("chromium not found (.ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--headless", "--no-sandbox"], headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content(f"<html><body>{html}</body></html>")
            yield page, errors
        finally:
            browser.close()
