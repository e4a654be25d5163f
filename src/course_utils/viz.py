"""Plots shared by the chapters: loss curves, attention heatmaps, and bertviz views that render
both live (Jupyter, Colab) and in the static HTML book."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_history(history, title: str = "Training loss", ax=None, smooth: int = 1):
    """Train loss per step and every evaluation split's loss, on one axis (nats per token)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    y = np.asarray(history.train_loss, dtype=float)
    if smooth > 1 and len(y) >= smooth:
        y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        steps = history.step[smooth - 1:]
    else:
        steps = history.step
    ax.plot(steps, y, label="train (per batch)", alpha=0.7)
    for name, losses in history.eval_loss.items():
        ax.plot(history.eval_step[:len(losses)], losses, "o-", label=name)
    ax.set(title=title, xlabel="optimizer step", ylabel="cross-entropy loss (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def heatmap(weights, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
            title: str = "Attention weights", ax=None, cmap: str = "viridis", annotate: bool | None = None,
            vmin: float | None = 0.0, vmax: float | None = None):
    """Draw a 2-D matrix (queries in rows, keys in columns) with labels and a colour bar."""
    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {w.shape}; select one head/batch first")
    ax = ax or plt.subplots(figsize=(1 + 0.5 * w.shape[1], 1 + 0.45 * w.shape[0]))[1]
    im = ax.imshow(w, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), labels=list(col_labels), rotation=45, ha="right")
    if annotate is None:
        annotate = w.size <= 100
    if annotate:
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if w[i, j] < (np.nanmax(w) + np.nanmin(w)) / 2 else "black")
    ax.set(title=title, xlabel="key position (attended to)", ylabel="query position")
    return ax


def attention_view(attentions, tokens: Sequence[str], kind: str = "head", **kwargs):
    """A bertviz head or model view as one self-contained HTML output.

    Uses ``html_action="return"`` so the output carries require.js and the view's script together:
    it renders in Jupyter and Colab, and in the built book (which serves require.js, d3 and jQuery).
    """
    from bertviz import head_view, model_view

    if len(tokens) > 40:
        raise ValueError(f"{len(tokens)} tokens: bertviz becomes unreadable and slow past ~40; "
                         "use a shorter input")
    fn = {"head": head_view, "model": model_view}.get(kind)
    if fn is None:
        raise ValueError(f"kind must be 'head' or 'model', not {kind!r}")
    return fn(attentions, list(tokens), html_action="return", **kwargs)


# --- tables ----------------------------------------------------------------------------------------

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
               notes: str | None = None, caption: str | None = None, wrap_em: float = 16):
    """Show a DataFrame as a reader's table (display it, or leave it as a cell's last expression).

    - no index column; numbers formatted per column with ``formats`` ({column: "{:,.0f}"} or a function),
      so put the unit in the column name ("train time (s)") and round here, not in the data;
    - ``keys``: the columns that name a row (e.g. method, profile). A row whose other columns are all
      empty is not shown; one line under the table says which are ``missing``, grouped by the last
      key when there are several ("gpu: not yet measured (LoRA, IA3)" for keys=["method", "profile"]);
    - ``notes``: a column of long remarks, moved under the table as numbered notes (the row gets a
      marker), so no cell runs off the page; text cells wrap at ``wrap_em`` em.
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
                    lines.append(f"{group}: {missing} ({', '.join(map(str, sub[keys[0]]))}).")
            else:
                lines.append(f"{missing[:1].upper()}{missing[1:]}: {', '.join(map(str, gone[keys[0]]))}.")
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
    styler = (frame.style.hide(axis="index").format(fmt, na_rep="")
              .set_table_styles([
                  {"selector": "th", "props": "text-align: left; vertical-align: bottom; white-space: normal;"},
                  {"selector": "td", "props": f"white-space: normal; max-width: {wrap_em}em; vertical-align: top;"},
              ]))
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right", "white-space": "nowrap"})
    if caption:
        styler = styler.set_caption(caption)
    shown = frame.copy()
    for c, f in fmt.items():
        shown[c] = [("" if _is_missing(v) else (f(v) if callable(f) else f.format(v))) for v in shown[c]]
    return Table(styler, shown.astype(object).fillna(""), lines)
