"""A small Sphinx extension for the book (listed in _config.yml, sphinx.extra_extensions).

It removes inline scripts that reach a page twice: Sphinx 7.4 keeps an inline script added after
the builder started (sphinx-thebe, sphinx-togglebutton do) once with filename None and once with
'', so `const THEBE_JS_URL` is declared twice and every page logs a SyntaxError.
"""
from __future__ import annotations

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


def setup(app) -> dict:
    app.connect("html-page-context", _dedupe, priority=900)  # after the extensions that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
