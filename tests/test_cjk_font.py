"""Chinese tick labels in the course's figures (5.3's cross-attention heatmaps): course_utils.viz.use_cjk_font
finds an installed CJK font, and a heatmap drawn with it has no "Glyph ... missing" warning; without a font
the helper says how to install one and changes nothing."""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after matplotlib.use
import numpy as np  # noqa: E402 - after matplotlib.use
import pytest  # noqa: E402 - after matplotlib.use

from course_utils import viz  # noqa: E402 - after matplotlib.use

ROWS = ["<bos>", "我", "爱", "你", "。"]
COLS = ["i", "love", "you", ".", "<eos>"]


@pytest.fixture(autouse=True)
def fresh_rcparams():
    with matplotlib.rc_context():   # every change the helper makes is undone after the test
        yield
    plt.close("all")


def missing_glyphs(rows=ROWS) -> list[str]:
    """Draw a heatmap with these row labels; the 'Glyph ... missing' warnings matplotlib gives."""
    w = np.random.default_rng(0).dirichlet(np.ones(len(COLS)), size=len(rows))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = viz.heatmap(w, rows, COLS, title="中文 cross-attention")
        ax.figure.canvas.draw()
    return [str(w.message) for w in caught if "Glyph" in str(w.message) and "missing" in str(w.message)]


def test_the_default_font_has_no_chinese_glyphs():
    """The failure the helper is for: without it, matplotlib warns (so the check below can fail)."""
    plt.rcParams["font.family"] = ["sans-serif"]
    plt.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    assert missing_glyphs(), "DejaVu Sans drew Chinese characters: this test can no longer tell"


def test_heatmap_with_chinese_tick_labels_has_every_glyph(caplog):
    name = viz.use_cjk_font()
    if name is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-zenhei); the helper's fallback is tested below")
    assert plt.rcParams["font.sans-serif"][0] == name
    assert missing_glyphs() == []
    assert missing_glyphs(["<bos>", "他", "告", "訴", "了", "我"]) == []   # traditional characters too (the data mixes both)
    font_logs = [r.getMessage() for r in caplog.records if r.name == "matplotlib.font_manager" and r.levelname == "WARNING"]
    assert font_logs == [], font_logs   # e.g. "findfont: Failed to find font weight normal for ..."


def test_without_a_cjk_font_the_helper_says_how_to_install_one(monkeypatch, capsys):
    monkeypatch.setattr(viz, "cjk_font", lambda sample="中文字": None)
    before = list(plt.rcParams["font.sans-serif"])
    assert viz.use_cjk_font() is None
    assert "apt-get install -y fonts-wqy-zenhei" in capsys.readouterr().out
    assert plt.rcParams["font.sans-serif"] == before
    assert viz.use_cjk_font(quiet=True) is None and capsys.readouterr().out == ""


def test_cjk_font_rejects_an_empty_sample_and_finds_no_font_for_an_unassigned_character():
    with pytest.raises(ValueError, match="sample"):
        viz.cjk_font("")
    assert viz.cjk_font("\U000E0080") is None   # an unassigned code point: no real font covers it
