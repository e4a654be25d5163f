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
    assert html.count(">gpu<") == 0 and "gpu: not yet measured (full fine-tuning, LoRA)." in html
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
