"""Self-check quizzes that work in the static HTML book, in Jupyter and in Colab.

    from course_utils.quiz import Choice, Numeric, Quiz
    Quiz([Choice("Which ...?", ["right", "wrong"], answer=0, why=["Yes: ...", "No: ..."]),
          Numeric("How many ...?", answer=4.0, tol=0.01, why="Because ...")])

A quiz is one ``text/html`` output with inline event handlers (no script file, no CDN, no
server): clicking an option or "Check" shows "Correct" or why not, right under the question.
"""
from __future__ import annotations

import html
import itertools
from dataclasses import dataclass, field

_ids = itertools.count()

_CSS = ("<style>.cq{border:1px solid #bbb;border-radius:6px;padding:.6em 1em;margin:.8em 0;max-width:100%;"
        "box-sizing:border-box}.cq-q{margin:.6em 0 1em}.cq button{margin:.15em .3em .15em 0;padding:.25em .7em;"
        "border:1px solid #888;border-radius:4px;background:#f4f4f4;color:#222;cursor:pointer;text-align:left}"
        ".cq input{width:8em;padding:.2em}.cq-fb{margin-top:.3em;min-height:1.2em}.cq-ok{color:#156b1d}"
        ".cq-no{color:#a11}</style>")


@dataclass
class Choice:
    """A multiple-choice question; ``why[i]`` explains option ``i`` (shown when it is clicked)."""
    question: str
    options: list[str]
    answer: int
    why: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 <= self.answer < len(self.options) or len(self.options) < 2:
            raise ValueError(f"answer {self.answer} is not one of the {len(self.options)} options")
        if self.why and len(self.why) != len(self.options):
            raise ValueError("give one explanation per option (or none)")


@dataclass
class Numeric:
    """A question whose answer is a number, accepted within ``tol`` (absolute) of ``answer``."""
    question: str
    answer: float
    tol: float = 1e-9
    why: str = ""

    def __post_init__(self) -> None:
        self.answer, self.tol = float(self.answer), float(self.tol)
        if self.tol < 0:
            raise ValueError("tol must be >= 0")


def _handler(ok_js: str) -> str:
    """Inline JavaScript: set the question's feedback line from ``ok_js`` (an expression giving [ok, text])."""
    return ("var q=this.closest('.cq-q'),f=q.querySelector('.cq-fb'),r=" + ok_js + ";"
            "f.textContent=(r[0]?'Correct. ':'Not quite. ')+r[1];f.className='cq-fb '+(r[0]?'cq-ok':'cq-no');")


def _choice_html(q: Choice) -> str:
    buttons = []
    for i, opt in enumerate(q.options):
        ok = "1" if i == q.answer else "0"
        why = q.why[i] if q.why else ("" if ok == "1" else "Try another option.")
        js = _handler("[this.dataset.ok==='1',this.dataset.why]")
        buttons.append(f'<button type="button" class="cq-opt" data-ok="{ok}" data-why="{html.escape(why)}" '
                       f'onclick="{html.escape(js)}">{html.escape(opt)}</button>')
    return "<div>" + "".join(buttons) + "</div>"


def _numeric_html(q: Numeric) -> str:
    js = _handler("(function(b){var s=q.querySelector('input').value.trim().replace(',', '.'),v=Number(s),"
                  "a=Number(b.dataset.answer),t=Number(b.dataset.tol);"
                  "if(s===''||!isFinite(v))return [false,'Type a number first.'];"
                  "if(Math.abs(v-a)<=t)return [true,b.dataset.why];"
                  "return [false,(v>a?'Too high':'Too low')+': '+v+' is not within '+t+' of the answer.'];})(this)")
    return (f'<div><input type="text" inputmode="decimal" aria-label="your answer" '
            f'onkeydown="if(event.key===\'Enter\'){{this.nextElementSibling.click();}}"> '
            f'<button type="button" class="cq-check" data-answer="{q.answer!r}" data-tol="{q.tol!r}" '
            f'data-why="{html.escape(q.why)}" onclick="{html.escape(js)}">Check</button></div>')


class Quiz:
    """A list of questions, displayed as one self-contained HTML block."""

    def __init__(self, questions: list[Choice | Numeric], title: str = "Self-check quiz"):
        if not questions:
            raise ValueError("a quiz needs at least one question")
        self.questions, self.title = list(questions), title
        self.uid = f"cq{next(_ids)}"

    def to_html(self) -> str:
        parts = [_CSS, f'<div class="cq" id="{self.uid}"><strong>{html.escape(self.title)}</strong>']
        for i, q in enumerate(self.questions, 1):
            body = _choice_html(q) if isinstance(q, Choice) else _numeric_html(q)
            parts.append(f'<div class="cq-q" id="{self.uid}-q{i}"><p>{i}. {html.escape(q.question)}</p>{body}'
                         '<div class="cq-fb" aria-live="polite"></div></div>')
        return "".join(parts) + "</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"Quiz({len(self.questions)} questions: open this notebook in Jupyter or the book to answer)"
