"""The client-side controls of 3.5 (temperature, top-k, top-p) and 5.4 (generation settings) work
in a browser without a kernel: the notebooks' own switcher cells are run here with small stand-ins
(a random next-character distribution, a tiny untrained GPT), the HTML they display is opened in
headless Chromium (Debian's, like tests/test_quiz.py), and moving one slider must change what is
shown. If the book is built, the same controls are also checked on the built pages.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from browser import html_page
import torch

from course_utils import viz
from course_utils.chardata import CharTokenizer
from course_utils.decoding import filter_top_k, filter_top_p, generate
from course_utils.models import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]
DECODING = "chapters/03_pretraining/05_decoding.ipynb"
GENERATION = "chapters/05_applications/04_generation.ipynb"
TEXT = "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nROMEO:\nI will be brief."


def switcher_cell(notebook: str) -> str:
    """The source of the one code cell of ``notebook`` that builds a client-side switcher."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    found = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"
             and "state_switcher_html" in "".join(c["source"])]
    assert len(found) == 1, f"{notebook}: expected one cell calling viz.state_switcher_html, found {len(found)}"
    return found[0]


def displayed_html(notebook: str, namespace: dict, monkeypatch) -> str:
    """Run the notebook's switcher cell as on the static page and return the HTML it displays."""
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    monkeypatch.setenv("COURSE_STATIC_OUTPUT", "1")    # the static page: no ipywidgets
    exec(switcher_cell(notebook), namespace)
    pages = [o.data for o in shown if isinstance(o, IPython.display.HTML)]
    assert len(pages) == 1, f"{notebook}: the switcher cell displayed {len(pages)} HTML outputs"
    return pages[0]


def decoding_html(monkeypatch) -> str:
    tok = CharTokenizer(TEXT)
    logits = torch.randn(tok.vocab_size, generator=torch.Generator().manual_seed(0)) * 2
    return displayed_html(DECODING, {"torch": torch, "tok": tok, "logits": logits, "viz": viz,
                                     "filter_top_k": filter_top_k, "filter_top_p": filter_top_p,
                                     "plt": None, "figure": None}, monkeypatch)


def generation_html(monkeypatch) -> str:
    tok = CharTokenizer(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=1, n_embd=8)).eval()

    def complete(prompt, temperature=0.8, top_p=0.9, length=12, seed=0):
        idx = torch.tensor([tok.encode(prompt)])
        out = generate(model, idx, length, temperature=temperature, top_p=top_p, greedy=temperature == 0,
                       generator=torch.Generator().manual_seed(seed))
        return tok.decode(out[0, idx.shape[1]:])

    import os
    return displayed_html(GENERATION, {"torch": torch, "os": os, "tok": tok, "model": model, "length": 12,
                                       "complete": complete, "filter_top_p": filter_top_p,
                                       "repetition": lambda text: 0.0, "surprise": lambda prompt, text: 1.0},
                          monkeypatch)


def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not found (.ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    return exe, sync_api


def check_decoding(page) -> None:
    """3.5: top-k at k = 1 leaves one character in the top-k row; the caption says so."""
    before_text, before_view = page.text_content("#decoding-filters-out"), page.inner_html("#decoding-filters-view")
    assert "top-k keeps 10 of" in before_text
    page.fill("#decoding-filters-top_k", "0")                      # the first option: k = 1
    assert page.text_content("#decoding-filters-top_k-value") == "1"
    after_text = page.text_content("#decoding-filters-out")
    assert after_text != before_text and "top-k keeps 1 of" in after_text
    assert page.inner_html("#decoding-filters-view") != before_view
    top_k_row = page.locator("#decoding-filters-view tr").nth(3).locator("td").all_text_contents()
    assert top_k_row[0] == "1.00" and all(v == "0.00" for v in top_k_row[1:]), top_k_row


def check_generation(page) -> None:
    """5.4: temperature 0 shows the greedy answer (all the first step's probability on one character)."""
    before = page.text_content("#assistant-settings-out")
    assert before.startswith("temperature 0.8, top-p 0.9") and "JULIET:\nO" in before
    assert page.eval_on_selector("#assistant-settings-out", "e => getComputedStyle(e).whiteSpace") == "pre-wrap"
    page.fill("#assistant-settings-temperature", "0")              # the first option: greedy
    after = page.text_content("#assistant-settings-out")
    assert after != before and after.startswith("greedy")
    assert page.locator("#assistant-settings-view td").first.text_content() == "1.00"


@pytest.mark.parametrize("build, check", [(decoding_html, check_decoding), (generation_html, check_generation)],
                         ids=["3.5 decoding filters", "5.4 generation settings"])
def test_control_changes_what_is_shown(build, check, monkeypatch):
    html = build(monkeypatch)
    assert "http" not in html and "src=" not in html, "nothing may be fetched from a CDN"
    with html_page(html) as (page, errors):
        check(page)
        assert errors == []


@pytest.mark.parametrize("page_path, uid, check", [
    ("chapters/03_pretraining/05_decoding.html", "decoding-filters", check_decoding),
    ("chapters/05_applications/04_generation.html", "assistant-settings", check_generation)])
def test_built_page(page_path, uid, check):
    """The same controls on the built book's page (skipped unless `make book` has built it with them)."""
    path = ROOT / "_build" / "html" / page_path
    if not path.is_file() or f'id="{uid}"' not in path.read_text(errors="replace"):
        pytest.skip(f"{page_path} not built with its client-side controls (run `make book`)")
    exe, sync_api = chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--headless", "--no-sandbox"], headless=True)
        try:
            page = browser.new_page()
            page.route("http*://**", lambda route: route.abort())   # offline: CDN scripts are not needed
            page.goto(path.as_uri())
            check(page)
        finally:
            browser.close()
