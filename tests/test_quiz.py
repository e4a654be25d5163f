"""The self-check quiz (course_utils.quiz): one self-contained HTML output, answered in headless
Chromium (right and wrong, multiple choice and numeric), and one quiz per edited chapter notebook."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from browser import html_page

from course_utils.quiz import Choice, Numeric, Quiz

ROOT = Path(__file__).resolve().parents[1]


def sample() -> Quiz:
    return Quiz([Choice("Which is <b>bigger</b>?", ["1 & 2", "10"], answer=1,
                        why=["No: 2 < 10 (it's \"small\").", "Yes: ten is the largest."]),
                 Numeric("How many heads?", answer=8, tol=0.5, why="d_model / d_head = 8.")])


def test_html_is_self_contained_and_escaped():
    text = sample().to_html()
    assert "http" not in text and "<script" not in text and "src=" not in text  # no CDN, no file to fetch
    assert "&lt;b&gt;bigger&lt;/b&gt;" in text and "1 &amp; 2" in text
    assert sample()._repr_html_().count('class="cq-q"') == 2
    with pytest.raises(ValueError):
        Choice("q", ["a", "b"], answer=2)
    with pytest.raises(ValueError):
        Choice("q", ["a", "b"], answer=0, why=["only one"])
    with pytest.raises(ValueError):
        Numeric("q", 1.0, tol=-1)


def test_feedback_in_chromium():
    quiz = sample()
    with html_page(quiz.to_html()) as (page, errors):
        q1, q2 = f"#{quiz.uid}-q1", f"#{quiz.uid}-q2"
        assert page.text_content(f"{q1} .cq-fb") == ""
        page.click(f"{q1} button >> nth=0")
        assert page.text_content(f"{q1} .cq-fb") == "Not quite. No: 2 < 10 (it's \"small\")."
        page.click(f"{q1} button >> nth=1")
        assert page.text_content(f"{q1} .cq-fb") == "Correct. Yes: ten is the largest."
        assert "cq-ok" in page.get_attribute(f"{q1} .cq-fb", "class")
        page.click(f"{q2} button")
        assert page.text_content(f"{q2} .cq-fb") == "Not quite. Type a number first."
        page.fill(f"{q2} input", "9")
        page.click(f"{q2} button")
        assert page.text_content(f"{q2} .cq-fb").startswith("Not quite. Too high: 9 is not within 0.5")
        page.fill(f"{q2} input", "7")
        page.press(f"{q2} input", "Enter")
        assert page.text_content(f"{q2} .cq-fb").startswith("Not quite. Too low")
        page.fill(f"{q2} input", "8.2")
        page.click(f"{q2} button")
        assert page.text_content(f"{q2} .cq-fb") == "Correct. d_model / d_head = 8."
        assert "cq-no" not in page.get_attribute(f"{q2} .cq-fb", "class")
        assert errors == []

# Every chapter notebook with a quiz cell. STAND_INS: values a quiz takes from the run before it
# (the test runs the quiz cell alone), by notebook; a notebook whose quiz uses none needs no entry.
NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chapters").glob("*/*.ipynb")
                   if "Quiz(" in p.read_text())
STAND_INS = {
    "chapters/01_history/01_language_as_probability.ipynb": {"V": 65},
    "chapters/01_history/04_timeline.ipynb": {"ratio": 1234.0, "years": 5.0},
}


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_ends_with_a_quiz_of_3_to_5_questions(path):
    cells = json.loads((ROOT / path).read_text())["cells"]
    quiz = [c for c in cells if c["cell_type"] == "code" and "Quiz(" in "".join(c["source"])]
    assert len(quiz) == 1 and quiz[0] is cells[-1], f"{path}: the last cell must be the quiz"
    src = "".join(quiz[0]["source"])
    n = src.count("Choice(") + src.count("Numeric(")
    assert 3 <= n <= 5 and "Choice(" in src and "Numeric(" in src, f"{path}: {n} questions"


def test_every_notebook_quiz_answers_right_in_chromium():
    """Each notebook's quiz cell (with stand-ins for the values it takes from the run): clicking the
    right option or typing the right number says 'Correct.', a wrong option says 'Not quite.'."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not found (.ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    quizzes = []
    for path in NOTEBOOKS:
        src = "".join(json.loads((ROOT / path).read_text())["cells"][-1]["source"])
        ns = dict(STAND_INS.get(path, {}))
        exec(src.replace("\nQuiz([", "\n_quiz = Quiz([", 1), ns)
        quizzes.append(ns["_quiz"])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--headless", "--no-sandbox"], headless=True)
        try:
            page = browser.new_page()
            page.set_content("<html><body>" + "".join(q.to_html() for q in quizzes) + "</body></html>")
            for quiz in quizzes:
                for i, q in enumerate(quiz.questions, 1):
                    sel = f"#{quiz.uid}-q{i}"
                    if isinstance(q, Choice):
                        page.click(f"{sel} button >> nth={(q.answer + 1) % len(q.options)}")
                        assert page.text_content(f"{sel} .cq-fb").startswith("Not quite."), sel
                        page.click(f"{sel} button >> nth={q.answer}")
                    else:
                        page.fill(f"{sel} input", repr(q.answer))
                        page.click(f"{sel} button")
                    assert page.text_content(f"{sel} .cq-fb").startswith("Correct."), (sel, q.question)
        finally:
            browser.close()
