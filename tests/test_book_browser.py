"""Every page of the built book, opened in headless Chromium (Debian's, driven by Playwright).

A page fails on: a JavaScript console error or uncaught exception; a broken internal link, image or
anchor; math left as raw TeX; an output cell that renders blank (a bertviz view without its
drawing, a widget that did not render, an empty figure); an image without alt text; a request to
the internet. CDN scripts (MathJax, require.js, d3, jQuery, the widget embedder) are answered from
local npm copies (tests/book_server.py), so the test is offline and runs the real scripts.
Full-page screenshots at 1280 px of the landing pages and every chapter page go to
.test-output/screenshots/ (look at them after a change: README, Contributing, has a checklist).
Also: a figure whose text would render below 8 px at its displayed size (the rule is in
course_utils.viz), a widget or interactive view wider than the text column (unless it scrolls in its
own box), and an in-page interactive output (6.4's carbon calculator, 2.2's temperature sliders) that
does not change when a slider moves.

Needs `make book` first (skipped otherwise). Run alone: `pytest tests/test_book_browser.py -p no:xdist`.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

import book_server as bs
from browser import CHROMIUM_ARGS, chromium_path, html_page

pytestmark = pytest.mark.book

HTML = bs.HTML
SHOTS = bs.OUTPUT / "screenshots"


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


def wants_screenshot(page: str) -> bool:
    """Pages a full-page screenshot at 1280 px is kept of: the landing pages and every chapter page."""
    return is_landing_page(page) or page.startswith("chapters/")


PAGES = book_pages()

# Text nodes that may hold raw TeX: visible text with a `$` or a backslash, outside code blocks,
# inputs, scripts and math that MathJax rendered (an unrendered `.math` span still counts).
TEX_SKIP = ("pre, code, kbd, samp, script, style, textarea, noscript, mjx-container, .highlight, "
            ".cell_input, .MathJax")
TEX_CANDIDATES_JS = r"""
  const texCandidates = root => {
    const found = [], walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode, el = node.parentElement, t = node.textContent;
      if (!el || !/[$\\]/.test(t) || el.closest('""" + TEX_SKIP + r"""')) continue;
      found.push(t.trim().slice(0, 400));
    }
    return found;
  };
"""

# Raw TeX in rendered text: the delimiters \( \) \[ \] and $$, a TeX command (\frac, \mathrm{...}),
# or any `$` that is not a price ("$5", "US$4.2 million", "$0.12/kWh").
_TEX_MARKS = re.compile(r"\$\$|\\[()\[\]]|\\(?:frac|sqrt|sum|prod|int|mathrm|mathbf|mathcal|text|begin|end|"
                        r"left|right|cdot|times|approx|alpha|beta|theta|lambda|sigma|log|exp|top|le|ge)(?![a-z])"
                        r"|\\[a-zA-Z]+\{")
_PRICE = re.compile(r"(?<![\w$\\])(?:US|A|C|NZ|HK)?\$\d[\d,]*(?:\.\d+)?(?:\s?(?:k|K|M|B|bn|million|billion|thousand))?"
                    r"(?![\w$^_{\\])")


def tex_problem(text: str) -> str | None:
    """The raw TeX in one text node of a rendered page, or None when it has none (prices are not TeX)."""
    if m := _TEX_MARKS.search(text):
        return m[0]
    rest = _PRICE.sub("", text)
    if "$" in rest:
        i = rest.index("$")
        return rest[max(0, i - 20):i + 20]
    return None


# Runs in the page after it loaded: ids, links, images, raw TeX and blank outputs.
INSPECT_JS = r"""() => {
  const out = {ids: [], links: [], images: [], tex: [], blank: []};
  """ + TEX_CANDIDATES_JS + r"""
  document.querySelectorAll('[id]').forEach(e => out.ids.push(e.id));
  document.querySelectorAll('a[name]').forEach(e => out.ids.push(e.getAttribute('name')));
  document.querySelectorAll('a[href]').forEach(a => out.links.push([a.getAttribute('href'), a.href]));
  document.querySelectorAll('img').forEach(img => {
    const src = img.getAttribute('src') || '';
    out.links.push([src, img.src]);
    out.images.push([src, img.getAttribute('alt')]);
  });
  // raw TeX: every visible text node with a `$` or a backslash, outside code, inputs and rendered
  // math, goes back to Python, where tex_problem() decides (one rule, unit-tested on a snippet)
  out.tex = texCandidates(document.body);
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
  // figures: natural and displayed size (Python applies course_utils.viz's legibility rule)
  out.figures = [];
  document.querySelectorAll('.cell_output img').forEach((img, i) => {
    const w = img.getBoundingClientRect().width;
    if (img.naturalWidth > 0 && w > 0) out.figures.push([img.getAttribute('src'), img.naturalWidth, w, i + 1]);
  });
  // widgets and interactive views must fit their column, or scroll inside a box that does
  out.overflow = [];
  const column = document.querySelector('article.bd-article, main .bd-article, article, main');
  if (column) {
    const right = column.getBoundingClientRect().right + 2;
    const boxes = '.widget-subarea, .jupyter-widgets, [id^="bertviz"], .carbon-calculator, .state-switcher, .course-table';
    document.querySelectorAll(boxes).forEach(el => {
      if (el.parentElement && el.parentElement.closest(boxes)) return;   // the outermost box decides
      let box = el, scrolls = false;
      for (let e = el; e && e !== column; e = e.parentElement) {
        const ox = getComputedStyle(e).overflowX;
        if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { box = e; scrolls = true; break; }
      }
      const r = box.getBoundingClientRect();
      if (r.right > right || (!scrolls && el.scrollWidth > column.getBoundingClientRect().width + 2))
        out.overflow.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${(el.className || '').toString().split(' ')[0]}`
                          + ` is ${Math.round(r.width)} px wide, ${Math.round(r.right - right + 2)} px past the column`);
    });
  }
  // bertviz's drawing: all of it reachable (its box scrolls far enough to show every head)
  document.querySelectorAll('[id^="bertviz"] svg').forEach(svg => {
    const w = svg.getBoundingClientRect().width;
    for (let e = svg.parentElement; e && e !== document.body; e = e.parentElement) {
      const ox = getComputedStyle(e).overflowX;
      if (ox !== 'visible') {
        if (ox === 'hidden' || e.scrollWidth + 2 < w) out.overflow.push(`bertviz drawing ${Math.round(w)} px wide is cut by a box of ${e.scrollWidth} px (${ox})`);
        break;
      }
    }
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


def figure_problem(src: str, natural_px: float, displayed_px: float, number: int = 0, page_url: str = "",
                   root: Path = HTML, dpi: float | None = None) -> str | None:
    """A figure whose smallest text would render below viz.MIN_TEXT_PX px (None when legible).

    The rule (course_utils.viz): text of viz.MIN_FONT_PT points (the smallest size of the course's
    figure style) in a PNG saved at its DPI (read from the file; viz.FIGURE_DPI when it records none),
    drawn at the image's displayed width, must be at least viz.MIN_TEXT_PX pixels tall."""
    from urllib.parse import urljoin

    from course_utils import viz

    if dpi is None:
        f = target_file(urljoin(page_url, src), root) if page_url else root / src
        data = f.read_bytes() if f.is_file() and f.suffix.lower() == ".png" else b""
        dpi = round(viz.png_dpi(data) or viz.FIGURE_DPI)
    px = viz.text_px_on_page(natural_px, displayed_px, dpi)
    if px >= viz.MIN_TEXT_PX:
        return None
    which = f"figure {number} of the page ({src.rsplit('/', 1)[-1][:12]}...)" if number else f"figure {src.rsplit('/', 1)[-1]}"
    return (f"{which} is {natural_px} px wide at {dpi} dpi, shown {displayed_px:.0f} px "
            f"wide: {viz.MIN_FONT_PT:g} pt text renders {px:.1f} px (< {viz.MIN_TEXT_PX:g}); keep figures "
            f"under {viz.max_figure_width_in():.1f} in wide (stack or split the panels, course_utils.viz.use_book_style)")


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
    # lazy images load now, so that every figure is measured (and none is reported blank for being off-screen)
    page.evaluate("""() => Promise.race([
        Promise.all(Array.from(document.images).map(img => {
          img.loading = 'eager';
          return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
        })),
        new Promise(done => setTimeout(done, 10000))])""")
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


INTERACTIVE = ".carbon-calculator, .state-switcher"


def check_calculators(page) -> list[str]:
    """Every in-page interactive output (course_utils.energy.calculator_html, viz.state_switcher_html)
    answers when a reader moves a control: its first slider is moved to the other end and the answer
    (the element its data-answer attribute names) must change."""
    out = []
    for root in page.query_selector_all(INTERACTIVE):
        uid = root.get_attribute("id")
        answer = page.locator(f"#{root.get_attribute('data-answer') or uid + '-out'}")
        before = answer.text_content() if answer.count() else None
        slider = root.query_selector('input[type="range"]')
        if slider is None or before is None:
            out.append(f"interactive output #{uid} has no slider or no answer element")
            continue
        end = slider.get_attribute("min") if slider.input_value() == slider.get_attribute("max") else slider.get_attribute("max")
        slider.fill(end)
        after = answer.text_content()
        if not after or after == before:
            out.append(f"interactive output #{uid} did not change when a slider moved (still {before!r}): "
                       "is its script running in the static page?")
    return out


def check_quizzes(page) -> list[str]:
    """Each self-check quiz (course_utils.quiz) answers in the static page: per quiz, its first
    multiple-choice question clicked wrong says 'Not quite.', clicked right 'Correct.', and its first
    numeric question typed right says 'Correct.'."""
    out = []
    for quiz in page.query_selector_all(".cq"):
        uid = quiz.get_attribute("id")
        choice = quiz.query_selector(".cq-q:has(button.cq-opt)")
        if choice is not None:
            fb = choice.query_selector(".cq-fb")
            choice.query_selector('button.cq-opt[data-ok="0"]').click()
            wrong = fb.text_content() or ""
            choice.query_selector('button.cq-opt[data-ok="1"]').click()
            right = fb.text_content() or ""
            if not (wrong.startswith("Not quite.") and right.startswith("Correct.")):
                out.append(f"quiz #{uid}: a choice gave {wrong[:40]!r} (wrong) and {right[:40]!r} (right)")
        numeric = quiz.query_selector(".cq-q:has(button.cq-check)")
        if numeric is not None:
            button = numeric.query_selector("button.cq-check")
            numeric.query_selector("input").fill(button.get_attribute("data-answer"))
            button.click()
            said = numeric.query_selector(".cq-fb").text_content() or ""
            if not said.startswith("Correct."):
                out.append(f"quiz #{uid}: the right number gave {said[:60]!r}")
        if choice is None and numeric is None:
            out.append(f"quiz #{uid} has no question")
    return out


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
    calculators: dict[str, int] = {}
    quizzes: dict[str, int] = {}

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
                                   else f"raw TeX visible (math not rendered): {t[:120]!r}"
                                   for t in info["tex"] if t.startswith("NUMBERED TWICE: ") or tex_problem(t)]
                problems[name] += [f"blank output: {b}" for b in info["blank"]]
                problems[name] += [m for src, alt in info["images"] if (m := alt_problem(src, alt))]
                problems[name] += [m for fig in info["figures"] if (m := figure_problem(*fig, page_url=page.url))]
                problems[name] += [f"overflows its column (make it fit, or scroll inside its own box): {o}"
                                   for o in info["overflow"]]
                if wants_screenshot(name):
                    page.screenshot(path=str(SHOTS / (name.removesuffix(".html").replace("/", "__") + ".png")),
                                    full_page=True)
                problems[name] += check_calculators(page)
                calculators[name] = page.locator(INTERACTIVE).count()
                problems[name] += check_quizzes(page)
                quizzes[name] = page.locator(".cq").count()
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
    return {"problems": problems_out, "seconds": seconds, "served": served, "calculators": calculators,
            "quizzes": quizzes, "shots": sorted(SHOTS.glob("*.png"))}


@pytest.mark.parametrize("page", PAGES or ["(book not built)"])
def test_page_has_no_problems(crawl, page):
    found = crawl["problems"][page]
    assert not found, f"{page}: {len(found)} problem(s):\n  " + "\n  ".join(found)


def test_cdn_scripts_were_served_locally_and_screenshots_saved(crawl):
    print(f"\nbrowser test: {len(PAGES)} pages in {crawl['seconds']:.1f} s; "
          f"{sum(crawl['served'].values())} CDN requests answered locally; screenshots in {SHOTS}")
    wanted = [p for p in PAGES if wants_screenshot(p)]
    assert len(crawl["shots"]) == len(wanted), "a landing or chapter page got no screenshot"
    assert any("require" in u for u in crawl["served"]), "no page asked for require.js: is bertviz still shown?"


def test_the_carbon_calculator_is_in_the_static_page(crawl):
    page = "chapters/06_environment/04_levers.html"
    if page not in crawl["calculators"]:
        pytest.skip(f"{page} not in this build")
    assert crawl["calculators"][page] >= 1, f"{page} shows no in-page calculator (course_utils.energy.calculator_html)"


# --- the helpers themselves (no browser needed) ---------------------------------------------------

def test_every_chapter_lesson_page_has_a_working_quiz(crawl):
    """Each lesson page of chapters 1-6 shows its self-check quiz, and the quizzes answer (check_quizzes
    reports a quiz that does not as a page problem)."""
    lessons = [p for p in crawl["quizzes"] if re.match(r"chapters/0[1-6]_[^/]+/\d\d_.*\.html$", p)]
    assert lessons, "no chapter lesson page was crawled"
    assert [p for p in lessons if crawl["quizzes"][p] < 1] == []


def test_quiz_check_on_a_snippet():
    """check_quizzes passes a working quiz and reports one whose handlers do not run."""
    from course_utils.quiz import Choice, Numeric, Quiz

    quiz = Quiz([Choice("Pick b", ["a", "b"], answer=1), Numeric("Two?", 2.0, tol=0.1)])
    dead = quiz.to_html().replace("onclick=", "data-onclick=")
    with html_page(quiz.to_html()) as (page, _):
        assert check_quizzes(page) == []
        page.set_content(f"<html><body>{dead}</body></html>")
        assert len(check_quizzes(page)) == 2


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
    assert is_landing_page("chapters/02_attention/index.html") and wants_screenshot("chapters/02_attention/01_x.html")
    assert not is_landing_page("chapters/02_attention/01_x.html")


@pytest.mark.parametrize("text,bad", [
    ("The cost grows as $O(n^2)$ with length.", True),
    ("where $$ s = QK^T $$ is the score", True),
    (r"the softmax \( e^{x_i} / \sum_j e^{x_j} \) of the scores", True),
    (r"\[ \mathrm{PPL} = e^{H} \]", True),
    (r"divide by \sqrt{d_k}", True),
    ("a price of $", True),
    ("A100 hours cost about $2.50 each, or US$4.2 million in total", False),
    ("costs $5 to $10 per run; $0.12/kWh", False),
    ("plain text with 100% and a back\\slash-free path", False),
])
def test_tex_problem_rule(text, bad):
    assert bool(tex_problem(text)) is bad, (text, tex_problem(text))


TEX_SNIPPET = r"""<html><body>
<p id="ok">Prices: $5 and US$4.2 million. Rendered math: <span class="math"><mjx-container>x</mjx-container></span>.</p>
<pre>print("$HOME \\(x\\)")</pre><p>Inline <code>$x$</code> code is fine.</p>
<div class="cell_input"><span>$not_checked$</span></div>
<p>Display math left in a paragraph: $$ E = \frac{1}{2} m v^2 $$ oops.</p>
<p>An inline formula MathJax never saw: \( x_i \) here.</p>
<p><span class="math notranslate nohighlight">\(\sqrt{d_k}\)</span></p>
</body></html>"""


def test_raw_tex_detection_on_a_snippet():
    """The browser's candidate collection plus tex_problem(), on a page with three mistakes and decoys."""
    with html_page(TEX_SNIPPET) as (page, _):
        found = page.evaluate(INSPECT_JS)["tex"]
    bad = [t for t in found if tex_problem(t)]
    assert len(bad) == 3, found
    assert any("frac" in t for t in bad) and any("x_i" in t for t in bad) and any("sqrt" in t for t in bad)
    assert not any("Prices" in t or "not_checked" in t or "HOME" in t for t in bad)


def test_calculator_check_on_a_snippet():
    """check_calculators passes a working calculator and reports one whose script does not run."""
    from course_utils.energy import calculator_html

    good = calculator_html(uid="good")
    dead = calculator_html(uid="dead").split("<script>")[0]   # what a page that drops scripts would show
    with html_page(good + dead) as (page, _):
        found = check_calculators(page)
    assert len(found) == 1 and "#dead did not change" in found[0], found


def test_figure_rule():
    assert figure_problem("a.png", 688, 688, dpi=100) is None
    assert figure_problem("a.png", 1190, 688, dpi=100) is None             # 11.9 in: just legible
    assert figure_problem("a.png", 1200, 688, dpi=100)                     # 12 in: not
    msg = figure_problem("../_images/b.png", 2000, 688, dpi=100)           # a 20-inch figure
    assert msg and "b.png" in msg and "stack or split" in msg
    assert figure_problem("c.png", 2000, 688, dpi=200) is None             # 10 in at 200 dpi


OVERFLOW_SNIPPET = """<html><body><article class="bd-article" style="width:688px">
<div class="cell_output"><div class="widget-subarea" style="width:1200px">too wide</div></div>
<div class="cell_output"><div class="scroll-box" style="max-width:100%;overflow-x:auto">
  <div id="bertviz-1" style="width:1200px"><svg width="1200" height="20"><rect width="5" height="5"/></svg></div></div></div>
<div class="cell_output"><div class="jupyter-widgets" style="width:600px">fits</div></div>
</article></body></html>"""


def test_overflow_detection_on_a_snippet():
    """A widget wider than the column is reported; one that scrolls inside its own box, or fits, is not."""
    with html_page(OVERFLOW_SNIPPET, viewport={"width": 1280, "height": 900}) as (page, _):
        found = page.evaluate(INSPECT_JS)["overflow"]
    assert len(found) == 1 and "widget-subarea" in found[0], found
