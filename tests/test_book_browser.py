"""Every page of the built book, opened in headless Chromium (Debian's, driven by Playwright).

A page fails on: a JavaScript console error or uncaught exception; a broken internal link, image or
anchor; math left as raw TeX; an output cell that renders blank (a bertviz view without its
drawing, a widget that did not render, an empty figure); an image without alt text; a request to
the internet. CDN scripts (MathJax, require.js, d3, jQuery, the widget embedder) are answered from
local npm copies (tests/book_server.py), so the test is offline and runs the real scripts.
Screenshots of the landing pages go to .test-output/screenshots/ (look at them after a change).

Needs `make book` first (skipped otherwise). Run alone: `pytest tests/test_book_browser.py -p no:xdist`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

import book_server as bs

pytestmark = pytest.mark.book

HTML = bs.HTML
SHOTS = bs.OUTPUT / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """Debian's chromium (apt-get install chromium); $BOOK_TEST_CHROMIUM overrides."""
    return os.environ.get("BOOK_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def book_pages(root: Path = HTML) -> list[str]:
    """Every HTML page of the built book, relative to its root (theme templates in _static excluded)."""
    if not (root / "index.html").is_file():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                  if not p.relative_to(root).parts[0].startswith("_"))


def is_landing_page(page: str) -> bool:
    """Pages a screenshot is kept of: the intro, the first page, every chapter's and the labs' index, errata, glossary."""
    return page in ("book/intro.html", "chapters/00_start/01_using_this_book.html", "exercises/index.html",
                    "book/errata.html", "book/glossary.html") or bool(
        re.fullmatch(r"chapters/\d\d_[^/]+/index\.html", page))


PAGES = book_pages()

# Runs in the page after it loaded: ids, links, images, raw TeX and blank outputs.
INSPECT_JS = r"""() => {
  const out = {ids: [], links: [], images: [], tex: [], blank: []};
  document.querySelectorAll('[id]').forEach(e => out.ids.push(e.id));
  document.querySelectorAll('a[name]').forEach(e => out.ids.push(e.getAttribute('name')));
  document.querySelectorAll('a[href]').forEach(a => out.links.push([a.getAttribute('href'), a.href]));
  document.querySelectorAll('img').forEach(img => {
    const src = img.getAttribute('src') || '';
    out.links.push([src, img.src]);
    out.images.push([src, img.getAttribute('alt')]);
  });
  // raw TeX in visible text, outside code, inputs and rendered math
  const skip = 'pre, code, script, style, textarea, noscript, mjx-container, .highlight, .cell_input, .MathJax';
  const tex = /\$\$|\\frac|\\begin\{|\\sqrt|\\sum_|\\mathrm|\\mathbf|\\left\(|\\\[|\\\(|\$[^$\s][^$\n]{0,80}[_^\\][^$\n]{0,80}\$/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    const m = node.textContent.match(tex);
    if (m) out.tex.push(node.textContent.trim().slice(0, 120));
  }
  // a title numbered twice ("6. 6. Title"): the table of contents numbers chapters already
  document.querySelectorAll('h1, h2').forEach(h => {
    const t = (h.innerText || '').trim();
    if (/^(\d+(?:\.\d+)*)\.?\s+\1\.\s/.test(t)) out.tex.push(`NUMBERED TWICE: ${t.slice(0, 80)}`);
  });
  // every output of every cell must show something
  const shows = e => e.tagName === 'IMG' || e.querySelector('img, svg, canvas, iframe, video')
                     || (e.innerText || '').trim().length > 0;
  document.querySelectorAll('.cell_output').forEach((cell, i) => {
    const parts = cell.children.length ? Array.from(cell.children) : [cell];
    parts.forEach(p => { if (!shows(p)) out.blank.push(`output ${i}: ${p.outerHTML.slice(0, 160)}`); });
  });
  document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').forEach(s => {
    const view = s.previousElementSibling;  // the widget manager renders each view just before its script
    if (!view || !view.classList.contains('widget-subarea') || !shows(view))
      out.blank.push(`a widget did not render (no static view): ${s.textContent.slice(0, 100)}`);
  });
  document.querySelectorAll('[id^="bertviz"]').forEach(v => {
    const svg = v.querySelector('svg');
    if (!svg || svg.childElementCount === 0) out.blank.push(`bertviz view #${v.id} has no drawing`);
  });
  document.querySelectorAll('img').forEach(img => {
    if (img.complete && img.naturalWidth === 0 && img.getAttribute('loading') !== 'lazy')
      out.blank.push(`image ${img.getAttribute('src')} did not load`);
  });
  return out;
}"""


def alt_problem(src: str, alt: str | None) -> str | None:
    """Why an image's alt text is missing (None when it has a real one)."""
    if alt is None or not alt.strip():
        return f"image {src} has no alt text"
    name = src.rsplit("/", 1)[-1]
    if name and (alt.strip() == src or alt.strip().endswith(name)):
        return f"image {src} has its file name as alt text (set one: see nb_render_image_options in _config.yml)"
    return None


def target_file(url: str, root: Path = HTML) -> Path:
    """The file of the book a local URL points at (folders serve their index.html)."""
    path = urlsplit(url).path.lstrip("/")
    f = root / path
    return f / "index.html" if (not path or path.endswith("/") or f.is_dir()) else f


def _visit(page, url: str, bertviz_timeout_ms: int = 15_000) -> None:
    page.goto(url, wait_until="load", timeout=60_000)
    try:
        page.wait_for_load_state("networkidle", timeout=15_000)
    except Exception:  # a page that keeps polling: the checks below still run
        pass
    if page.query_selector(".math"):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=20_000)
        page.evaluate("""() => Promise.race([MathJax.startup.promise.then(() => true),
                                             new Promise(done => setTimeout(() => done(false), 20000))])""")
    if page.query_selector('[id^="bertviz"]'):
        try:
            page.wait_for_function(
                """() => Array.from(document.querySelectorAll('[id^="bertviz"]'))
                          .every(v => v.querySelector('svg') && v.querySelector('svg').childElementCount > 0)""",
                timeout=bertviz_timeout_ms)
        except Exception:  # reported as a blank bertviz view by INSPECT_JS
            pass


@pytest.fixture(scope="module")
def crawl():
    """Open every page once; returns {page: [problems]} plus 'seconds' and the screenshots written."""
    if not PAGES:
        pytest.skip("the book is not built (_build/html/index.html missing): run `make book` first")
    exe = chromium_path()
    if exe is None:
        pytest.skip("chromium not found: install it (`apt-get install chromium`, or .ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    try:
        bs.fetch_assets()
    except RuntimeError as err:
        pytest.fail(f"local copies of the CDN scripts are missing: {err}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    start = time.perf_counter()
    problems: dict[str, list[str]] = {p: [] for p in PAGES}
    ids: dict[str, set[str]] = {}
    links: dict[str, list[tuple[str, str]]] = {}
    current: list[str] = [""]
    served: dict[str, int] = {}

    with bs.BookServer() as server, sync_api.sync_playwright() as pw:
        origin = server.url.rstrip("/")

        def route(r):
            url = r.request.url
            if url.startswith(origin):
                if r.request.resource_type != "document":
                    return r.continue_()
                resp = r.fetch()
                return r.fulfill(response=resp, body=bs.strip_cdn_integrity(resp.text()))
            local = bs.local_copy(url)
            if local is not None:
                served[url] = served.get(url, 0) + 1
                return r.fulfill(status=200, body=local.read_bytes(), content_type=bs.content_type(local),
                                 headers={"Access-Control-Allow-Origin": "*"})
            problems[current[0]].append(f"request to the internet blocked (no local copy): {url}")
            return r.abort()

        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and problems[current[0]].append(
            f"console error: {m.text[:300]} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"))
        page.on("pageerror", lambda e: problems[current[0]].append(f"uncaught exception: {str(e)[:300]}"))
        page.on("response", lambda r: r.status >= 400 and problems[current[0]].append(
            f"HTTP {r.status} for {r.url}"))
        page.on("requestfailed", lambda r: r.url.startswith(origin) and problems[current[0]].append(
            f"request failed: {r.url} ({r.failure})"))
        try:
            for name in PAGES:
                current[0] = name
                try:
                    _visit(page, f"{origin}/{name}")
                    info = page.evaluate(INSPECT_JS)
                except Exception as err:  # a timeout or crash is this page's problem, not the run's
                    problems[name].append(f"could not be checked: {str(err).splitlines()[0][:300]}")
                    continue
                final = page.url.split("#")[0]
                landed = final[len(origin) + 1:] if final.startswith(origin) else name
                ids[landed] = set(info["ids"])
                links[name] = [(raw, absu) for raw, absu in info["links"]]
                problems[name] += [f"heading numbered twice (drop the number from the page's title, the "
                                   f"table of contents adds it): {t[16:]!r}" if t.startswith("NUMBERED TWICE: ")
                                   else f"raw TeX visible (math not rendered): {t!r}" for t in info["tex"]]
                problems[name] += [f"blank output: {b}" for b in info["blank"]]
                problems[name] += [m for src, alt in info["images"] if (m := alt_problem(src, alt))]
                if is_landing_page(name):
                    page.screenshot(path=str(SHOTS / (name.removesuffix(".html").replace("/", "__") + ".png")),
                                    full_page=True)
        finally:
            browser.close()

    # internal links: the file exists and the anchor is an id on the target page
    for name, page_links in links.items():
        for raw, absu in page_links:
            if not absu.startswith(origin) or raw.startswith(("javascript:", "mailto:")):
                continue
            url, frag = urldefrag(absu)
            f = target_file(url)
            if not f.is_file():
                problems[name].append(f"broken link {raw!r}: {f.relative_to(HTML)} does not exist")
                continue
            if frag and f.suffix == ".html":
                rel = f.relative_to(HTML).as_posix()
                known = ids.get(rel)
                if known is None:
                    known = set(re.findall(r'\bid="([^"]+)"', f.read_text(encoding="utf-8", errors="replace")))
                    ids[rel] = known
                if frag not in known and raw not in ("#",):
                    problems[name].append(f"broken anchor {raw!r}: no id {frag!r} in {rel}")
    problems_out = {k: sorted(set(v), key=v.index) for k, v in problems.items()}
    seconds = time.perf_counter() - start
    (bs.OUTPUT / "browser_test.json").write_text(json.dumps({
        "pages": len(PAGES), "seconds": round(seconds, 1), "pages_with_problems": sum(map(bool, problems_out.values())),
        "cdn_requests_served_locally": sum(served.values()), "html": str(HTML)}, indent=1) + "\n")
    return {"problems": problems_out, "seconds": seconds, "served": served,
            "shots": sorted(SHOTS.glob("*.png"))}


@pytest.mark.parametrize("page", PAGES or ["(book not built)"])
def test_page_has_no_problems(crawl, page):
    found = crawl["problems"][page]
    assert not found, f"{page}: {len(found)} problem(s):\n  " + "\n  ".join(found)


def test_cdn_scripts_were_served_locally_and_screenshots_saved(crawl):
    print(f"\nbrowser test: {len(PAGES)} pages in {crawl['seconds']:.1f} s; "
          f"{sum(crawl['served'].values())} CDN requests answered locally; screenshots in {SHOTS}")
    landing = [p for p in PAGES if is_landing_page(p)]
    assert len(crawl["shots"]) == len(landing), "a landing page got no screenshot"
    assert any("require" in u for u in crawl["served"]), "no page asked for require.js: is bertviz still shown?"


# --- the helpers themselves (no browser needed) ---------------------------------------------------

def test_cdn_urls_map_to_local_copies():
    m = bs.local_copy
    assert m("https://example.com/x.js") is None
    assert m("https://cdnjs.cloudflare.com/ajax/libs/lodash/4.0.0/lodash.min.js") is None
    if not (bs.package_dir("d3@5.7.0") / "package.json").is_file():
        pytest.skip("CDN copies not fetched yet (python tests/book_server.py fetch)")
    assert m("https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min.js").name == "d3.min.js"
    assert m("https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min.js").name == "jquery.min.js"
    assert m("https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js").parent.name == "requirejs@2.3.6"
    mj = m("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js")
    assert mj is not None and mj.read_bytes()[:200].strip()
    assert m("https://cdn.jsdelivr.net/npm/mathjax@3/../../etc/passwd") is None


def test_alt_and_link_helpers(tmp_path):
    assert alt_problem("a.png", None) and alt_problem("a.png", "  ")
    assert alt_problem("../../_images/abc.png", "../../_images/abc.png")
    assert alt_problem("x.png", "Bar chart of character frequencies") is None
    (tmp_path / "ch").mkdir()
    assert target_file("http://127.0.0.1:1/ch/", tmp_path) == tmp_path / "ch" / "index.html"
    assert target_file("http://127.0.0.1:1/ch/p.html", tmp_path) == tmp_path / "ch" / "p.html"
    page = '<script crossorigin="anonymous" integrity="sha256-x" src="https://cdnjs.cloudflare.com/r.js"></script>'
    assert "integrity" not in bs.strip_cdn_integrity(page)
    local = '<link integrity="sha256-y" href="_static/a.css" rel="stylesheet">'
    assert bs.strip_cdn_integrity(local) == local
    assert is_landing_page("chapters/02_attention/index.html")
    assert not is_landing_page("chapters/02_attention/01_x.html")
