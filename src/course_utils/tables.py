"""Results shown as tables in a notebook and in the static book: rounded numbers, units in the
headers, no index column, no clipped cells, and missing (not yet measured) rows collapsed into one line."""
from __future__ import annotations

from typing import Sequence

import numpy as np

def _is_missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(np.isnan(v))
    except TypeError:
        return False


class Table:
    """A formatted table for a notebook and the static book: HTML (pandas Styler, no index column,
    long text wrapped) plus lines under it for notes and for rows not yet measured; plain text too."""

    def __init__(self, styler, frame, lines: list[str]):
        self.styler, self.frame, self.lines = styler, frame, lines

    def _repr_html_(self) -> str:
        import html as _html
        below = "".join(f'<p class="table-note" style="margin:0.3em 0;font-size:0.9em">{_html.escape(t)}</p>'
                        for t in self.lines)
        return f'<div class="course-table" style="max-width:100%;overflow-x:auto">{self.styler.to_html()}{below}</div>'

    def __repr__(self) -> str:
        return "\n".join([self.frame.to_string(index=False), *self.lines])


def show_table(df, *, formats: dict | None = None, keys: Sequence[str] = (), missing: str = "not yet measured",
               notes: str | None = None, caption: str | None = None, wrap_em: float = 16, transpose: bool = False):
    """Show a DataFrame as a reader's table (display it, or leave it as a cell's last expression).

    - no index column; numbers formatted per column with ``formats`` ({column: "{:,.0f}"} or a function),
      so put the unit in the column name ("train time (s)") and round here, not in the data;
    - ``keys``: the columns that name a row (e.g. method, profile). A row whose other columns are all
      empty is not shown; one line under the table says which are ``missing``, grouped by the last
      key when there are several ("gpu rows not yet measured: LoRA, IA3." for keys=["method", "profile"]);
    - a key other than the first with one value in every row shown (every row is cpu) is dropped and
      said once, in the caption;
    - ``notes``: a column of long remarks, moved under the table as numbered notes (the row gets a
      marker), so no cell runs off the page; text cells wrap at ``wrap_em`` em;
    - ``transpose``: one column per row of the data (named by the first key), one row per measure,
      for a comparison of a few rows with many measures that would be too wide otherwise.
    """
    import pandas as pd

    frame = df.reset_index(drop=True).copy()
    keys = list(keys)
    for k in keys + ([notes] if notes else []):
        if k not in frame.columns:
            raise KeyError(f"show_table: no column {k!r} (columns: {', '.join(map(str, frame.columns))})")
    lines: list[str] = []
    values = [c for c in frame.columns if c not in keys and c != notes]
    if keys and values:
        empty = frame[values].apply(lambda row: all(_is_missing(v) for v in row), axis=1)
        gone, frame = frame[empty], frame[~empty].reset_index(drop=True)
        if len(gone):
            if len(keys) >= 2:
                for group, sub in gone.groupby(keys[-1], sort=False):
                    lines.append(f"{group} rows {missing}: {', '.join(map(str, sub[keys[0]]))}.")
            else:
                lines.append(f"{missing[:1].upper()}{missing[1:]}: {', '.join(map(str, gone[keys[0]]))}.")
    for k in keys[1:]:   # a key with one value left (e.g. every row shown is cpu): said once, not per row
        if len(frame) and frame[k].nunique() == 1:
            value = str(frame[k].iloc[0])
            if not caption or value not in caption:
                caption = f"{caption}; {k}: {value}" if caption else f"{k}: {value}"
            frame = frame.drop(columns=[k])
    if notes:
        n = 0
        label_col = keys[0] if keys else frame.columns[0]
        marked = frame[label_col].astype(str).tolist()
        for i, text in enumerate(frame[notes].tolist()):
            if not _is_missing(text):
                n += 1
                marked[i] = f"{marked[i]} [{n}]"
                lines.insert(n - 1, f"[{n}] {str(text).strip()}")
        frame[label_col] = marked
        frame = frame.drop(columns=[notes])
    fmt = {c: f for c, f in (formats or {}).items() if c in frame.columns}
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    shown = frame.copy()
    for c, f in fmt.items():
        shown[c] = [("" if _is_missing(v) else (f(v) if callable(f) else f.format(v))) for v in shown[c]]
    shown = shown.astype(object).fillna("")
    if transpose:   # one column per row of the data (e.g. per method), one row per measure: narrow tables
        label_col = keys[0] if keys else frame.columns[0]
        table = shown.set_index(label_col).T.reset_index()
        table.columns = [""] + [str(c) for c in table.columns[1:]]
        body, right = table, list(table.columns[1:])
    else:
        body, right = frame, numeric
    styler = (body.style.hide(axis="index").format({} if transpose else fmt, na_rep="")
              .set_table_styles([
                  {"selector": "", "props": "font-size: 0.9em; border-collapse: collapse;"},
                  {"selector": "caption", "props": "caption-side: top; text-align: left; font-size: 0.95em;"},
                  {"selector": "th", "props": f"text-align: {'right' if transpose else 'left'}; vertical-align: bottom; "
                                              "white-space: normal; padding: 0.2em 0.5em; border-bottom: 1px solid #999;"},
                  {"selector": "td", "props": f"white-space: normal; max-width: {wrap_em}em; vertical-align: top; "
                                              "padding: 0.2em 0.5em; border-bottom: 1px solid #ddd;"},
              ]))
    if right:
        styler = styler.set_properties(subset=right, **{"text-align": "right", "white-space": "nowrap"})
    if caption:
        styler = styler.set_caption(caption)
    return Table(styler, shown.astype(object).fillna(""), lines)
