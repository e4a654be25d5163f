"""course_utils.viz: the reader's table (and the shared figure style)."""
import re

import numpy as np
import pandas as pd
import pytest

from course_utils import viz


def results_frame():
    return pd.DataFrame([
        {"method": "full fine-tuning", "profile": "cpu", "dev accuracy": 0.88654, "train time (s)": 240.4,
         "trainable params": 22713218, "note": "a long remark about how this row was measured, " * 3},
        {"method": "LoRA (r=10 in layers 2, 3, 4, 5, pooler trained in full)", "profile": "cpu",
         "dev accuracy": 0.8761, "train time (s)": 239.6, "trainable params": 425090, "note": ""},
        {"method": "full fine-tuning", "profile": "gpu", "note": ""},
        {"method": "LoRA", "profile": "gpu", "note": ""},
    ])


def test_show_table_formats_hides_index_and_collapses_missing_rows():
    t = viz.show_table(results_frame(), keys=["method", "profile"], notes="note",
                       formats={"dev accuracy": "{:.3f}", "train time (s)": "{:.0f}", "trainable params": "{:,}"})
    html = t._repr_html_()
    assert "0.887" in html and "0.88654" not in html and "22,713,218" in html and ">240<" in html
    assert "row_heading" not in html and "blank level0" not in html, "the index column is shown"
    # the full method name is there, not cut to pandas' 50 characters
    assert "LoRA (r=10 in layers 2, 3, 4, 5, pooler trained in full)" in html
    # gpu rows: one line, not two empty rows
    assert html.count(">gpu<") == 0 and "gpu rows not yet measured: full fine-tuning, LoRA." in html
    assert "profile: cpu</caption>" in html, "a key with one value left is said once, in the caption"
    # the long note moved under the table, with a marker on its row
    assert "full fine-tuning [1]" in html and "[1] a long remark" in html
    assert not re.search(r"<td[^>]*>a long remark", html)
    assert "white-space: normal" in html
    text = repr(t)
    assert "0.887" in text and "not yet measured" in text and "\n0 " not in text


def test_show_table_with_one_key_and_no_missing():
    df = pd.DataFrame({"model": ["a", "b"], "energy (kWh)": [1.23456, np.nan]})
    t = viz.show_table(df, keys=["model"], formats={"energy (kWh)": "{:.2f}"})
    assert "1.23" in t._repr_html_() and t.lines == ["Not yet measured: b."]
    assert viz.show_table(df)._repr_html_().count("<tr") == 3   # no keys: nothing collapsed


def test_show_table_names_a_wrong_column():
    with pytest.raises(KeyError, match="no column 'nope'"):
        viz.show_table(results_frame(), keys=["nope"])


def test_legibility_rule():
    # a column-wide figure is shown at its natural size: 9 pt at 100 dpi is 12.5 px
    assert viz.text_px_on_page(688, 688, dpi=100, font_pt=9) == pytest.approx(12.5)
    # a 20-inch figure at 100 dpi squeezed into the column: 10 pt text becomes 4.8 px
    assert viz.text_px_on_page(2000, 688, dpi=100) == pytest.approx(4.78, abs=0.01)
    assert viz.max_figure_width_in() == pytest.approx(11.94, abs=0.01)
    # the widest legible figure does not depend on the DPI
    w = viz.max_figure_width_in()
    for dpi in (72, 100, 200):
        px = viz.text_px_on_page(w * dpi, viz.BOOK_COLUMN_PX, dpi=dpi)
        assert px == pytest.approx(viz.MIN_TEXT_PX)
        assert viz.text_px_on_page(w * 1.05 * dpi, viz.BOOK_COLUMN_PX, dpi=dpi) < viz.MIN_TEXT_PX
    with pytest.raises(ValueError):
        viz.text_px_on_page(0, 688)


def test_book_style_and_png_dpi():
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(viz.figure_style()):
        fig, ax = plt.subplots()
        assert fig.get_size_inches()[0] == pytest.approx(viz.COLUMN_WIDTH_IN)
        assert fig.get_size_inches()[0] <= viz.max_figure_width_in()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
    assert viz.png_dpi(buf.getvalue()) == pytest.approx(viz.FIGURE_DPI, abs=0.01)
    assert viz.png_dpi(b"GIF89a") is None


@pytest.mark.parametrize("n", [4, 15, 25, 40])
def test_heatmap_of_many_long_labels_stays_legible_in_the_column(n):
    """Notebook 5.2's page-similarity heatmap (25 long page names in the cpu profile) rendered 14.5 in
    wide, too wide for its text to stay legible in the book's column; the heatmap caps its size."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    labels = [f"05 applications/{i:02d} a long page name of the book" for i in range(n)]
    with plt.rc_context(viz.figure_style()):
        ax = viz.heatmap(np.random.default_rng(0).random((n, n)), labels, labels, title="pages", annotate=False)
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", bbox_inches="tight")     # as the notebook's inline backend does
        plt.close(ax.figure)
    width_px, height_px = Image.open(buf).size
    assert width_px / viz.FIGURE_DPI <= viz.max_figure_width_in(), f"{width_px} px wide"
    assert ax.get_xticklabels()[0].get_fontsize() >= viz.MIN_FONT_PT


def switcher_states():
    controls = [("a", "a", [1, 2]), ("flag", "flag", ["yes", "no"])]
    states = {(a, f): (np.full((2, 3), a / 4 + (f == "yes") / 2), f"a={a} flag={f}") for a in (1, 2) for f in ("yes", "no")}
    return controls, states


def test_state_switcher_holds_every_state_and_needs_all():
    controls, states = switcher_states()
    page = viz.state_switcher_html(controls, states, uid="sw")
    assert "src=" not in page and "http" not in page and page.count('type="range"') == 2
    assert all(caption in page for _, caption in states.values())
    del states[(2, "no")]
    with pytest.raises(KeyError, match="no state"):
        viz.state_switcher_html(controls, states, uid="sw")


def test_state_switcher_in_chromium():
    import shutil
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not found (.ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    controls, states = switcher_states()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--headless", "--no-sandbox"], headless=True)
        try:
            page = browser.new_page()
            page.set_content(f"<html><body>{viz.state_switcher_html(controls, states, uid='sw')}</body></html>")
            assert page.text_content("#sw-out") == "a=1 flag=yes"
            assert page.text_content("#sw-view td") == "0.75"            # 1/4 + 1/2
            page.fill("#sw-a", "1")
            assert page.text_content("#sw-out") == "a=2 flag=yes" and page.text_content("#sw-a-value") == "2"
            page.fill("#sw-flag", "1")
            assert page.text_content("#sw-out") == "a=2 flag=no" and page.text_content("#sw-view td") == "0.50"
            assert page.locator("#sw-view td").count() == 6
        finally:
            browser.close()


def test_show_table_transposed():
    t = viz.show_table(results_frame(), keys=["method", "profile"], notes="note", transpose=True,
                       formats={"dev accuracy": "{:.3f}", "trainable params": "{:,}"})
    html = t._repr_html_()
    assert re.search(r"<th[^>]*>full fine-tuning \[1\]</th>", html) and "22,713,218" in html and "0.887" in html
    assert re.search(r"<td[^>]*>dev accuracy</td>", html), "the measures become rows"
    assert "gpu rows not yet measured" in html and "row_heading" not in html
