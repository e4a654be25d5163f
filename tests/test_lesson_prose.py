"""Lessons teach; the record of how their numbers were obtained lives in the appendix (issue 26).
A lesson listed here has at most MAX_WORDS words of prose (markdown before its exercises) and no
measured figure typed into that prose: such numbers come from code (MyST-NB glue, or a cell's output)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_WORDS = 1200
LESSONS = ["chapters/04_finetuning/05_results_and_errors.ipynb"]   # add each lesson rewritten under issue 26
ROLE = re.compile(r"\{(?:glue:text|glue|cite|doc|ref|numref|eq)\}`[^`]*`")
FIGURE = re.compile(r"\b\d+\.\d+\b|\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)?\s?%"
                    r"|\b\d+\s?(?:points?|minutes?|seconds?|s|GB|MB|million|x)\b")


def prose(path: str) -> str:
    """The lesson's markdown up to its '## Exercises' section."""
    parts = []
    for cell in json.loads((ROOT / path).read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if text.startswith("## Exercises"):
                break
            parts.append(text)
    return "\n\n".join(parts)


def word_count(text: str) -> int:
    text = re.sub(r"^```.*$|^:class:.*$", "", text, flags=re.M)      # directive fences and options
    text = ROLE.sub("N", text)                                          # a glued value or citation: one word
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)                 # a link counts by its text
    return len(re.findall(r"[\w$`(\[*\"']\S*", text))


def typed_figures(text: str) -> list[str]:
    text = ROLE.sub("", text)
    text = re.sub(r"`[^`]*`|\$[^$]*\$", "", text)                       # code and maths are not prose figures
    text = re.sub(r"\]\([^)]*\)", "]", text)                            # link targets
    return FIGURE.findall(text)


@pytest.mark.parametrize("path", LESSONS)
def test_lesson_prose_is_short_and_has_no_typed_figures(path):
    text = prose(path)
    assert word_count(text) <= MAX_WORDS, f"{path}: {word_count(text)} words of prose (at most {MAX_WORDS})"
    assert typed_figures(text) == [], f"{path}: figures typed into the prose (glue them): {typed_figures(text)}"


def test_the_checks_catch_a_long_record_with_typed_figures():
    record = "LoRA reached 0.873 on dev in 480 s, 1.8 passes, 2 % trainable, 425,090 weights. " * 100
    assert word_count(record) > MAX_WORDS
    assert {"0.873", "480 s", "1.8", "2 %", "425,090"} <= set(typed_figures(record))
    assert typed_figures("It ends {glue:text}`lora_gap` full fine-tuning, see `results/x_0.5.json` and $p = 0.9$.") == []
