"""A small Sphinx extension for the book (listed in _config.yml, sphinx.extra_extensions).

- It removes inline scripts that reach a page twice: Sphinx 7.4 keeps an inline script added after
  the builder started (sphinx-thebe, sphinx-togglebutton do) once with filename None and once with
  '', so `const THEBE_JS_URL` is declared twice and every page logs a SyntaxError.
- It regenerates book/glossary.md from the chapters' glossary.csv files before the sources are read,
  so the published glossary is never stale (tests/test_book_content.py checks the committed one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def _key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items() if k != "priority")))


def unique_scripts(scripts: list) -> list:
    """The scripts in order, each (file name or inline body, attributes) kept once."""
    seen: set[tuple] = set()
    out = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            out.append(script)
    return out


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(list(context["script_files"]))


def refresh_glossary(srcdir: Path) -> bool:
    """Rewrite book/glossary.md under srcdir if the chapters' glossary.csv files changed; True if it did."""
    from course_tools import glossary

    if not (srcdir / "chapters").is_dir():
        return False
    out = srcdir / glossary.OUTPUT
    text = glossary.render(glossary.read_entries(srcdir), srcdir)
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        return False
    out.write_text(text, encoding="utf-8")
    return True


def _refresh(app) -> None:
    from sphinx.util import logging

    from course_tools.glossary import GlossaryError

    try:
        if refresh_glossary(Path(app.srcdir)):
            logging.getLogger(__name__).info("book/glossary.md regenerated from chapters/*/glossary.csv")
    except GlossaryError as err:
        logging.getLogger(__name__).warning(f"glossary: {err}")


def setup(app) -> dict:
    app.connect("builder-inited", _refresh)
    app.connect("html-page-context", _dedupe, priority=900)  # after the extensions that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
