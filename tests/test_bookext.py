from types import SimpleNamespace

from course_tools import bookext


def js(filename, **attributes):
    return SimpleNamespace(filename=filename, attributes=attributes)


def test_inline_script_added_twice_is_kept_once():
    body = 'const THEBE_JS_URL = "x"'
    scripts = [js("_static/a.js"), js(None, body=body, priority=500), js("", body=body, priority=500),
               js("_static/b.js"), js("_static/a.js")]
    out = bookext.unique_scripts(scripts)
    assert [s.filename for s in out] == ["_static/a.js", None, "_static/b.js"]


def test_different_scripts_are_all_kept():
    scripts = [js(None, body="let a = 1"), js(None, body="let b = 2"), js("x.js", defer="defer"), js("x.js")]
    assert len(bookext.unique_scripts(scripts)) == 4


def test_page_context_is_rewritten():
    ctx = {"script_files": [js(None, body="v"), js("", body="v")]}
    bookext._dedupe(None, "p", "page.html", ctx, None)
    assert len(ctx["script_files"]) == 1


def test_glossary_is_refreshed_only_when_stale(tmp_path):
    ch = tmp_path / "chapters" / "01_x"
    ch.mkdir(parents=True)
    (tmp_path / "book").mkdir()
    (ch / "glossary.csv").write_text("term,term_zh,definition,page\ntoken,词元,a unit,chapters/01_x/01_a\n")
    assert bookext.refresh_glossary(tmp_path)
    page = (tmp_path / "book" / "glossary.md").read_text(encoding="utf-8")
    assert "**token**" in page
    assert not bookext.refresh_glossary(tmp_path)  # unchanged: not rewritten
    assert not bookext.refresh_glossary(tmp_path / "book")  # not the course's source tree
