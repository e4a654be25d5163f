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
    own = ax is None
    ax = ax or plt.subplots(figsize=(min(1 + 0.5 * w.shape[1], max_figure_width_in()), 1 + 0.45 * w.shape[0]))[1]
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
    if own:
        fit_column(ax.figure)
    return ax


def fit_column(fig, max_width_in: float | None = None) -> None:
    """Narrow ``fig`` until the image the notebook saves (its tight bounding box, tick labels
    included) is at most ``max_width_in`` (default :func:`max_figure_width_in`) wide, so that its
    text stays legible in the book's column. Set axis labels and ticks first."""
    limit = 0.98 * (max_width_in or max_figure_width_in())
    for _ in range(4):
        width = fig.get_tightbbox(fig.canvas.get_renderer()).width      # inches
        if width <= limit:
            return
        w, h = fig.get_size_inches()
        fig.set_size_inches(max(2.0, w - (width - limit) - 0.05), h)


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
    view = fn(attentions, list(tokens), html_action="return", **kwargs)
    return scroll_box(view)


def scroll_box(view, max_height_px: int | None = None):
    """An HTML output wrapped in a box as wide as the column that scrolls when its content is wider
    (bertviz's model view of 12 heads is wider than the book's column: every head stays reachable)."""
    from IPython.display import HTML

    body = view.data if hasattr(view, "data") else str(view)
    height = f"max-height:{max_height_px}px;overflow-y:auto;" if max_height_px else ""
    return HTML(f'<div class="scroll-box" style="max-width:100%;overflow-x:auto;{height}">{body}</div>')


# --- figures at the book's column width ------------------------------------------------------------
#
# The book's text column is about 688 CSS px wide in a 1280 px window. A PNG wider than that is shown
# scaled down, and so is its text. The rule the browser test applies to every figure: text of
# MIN_FONT_PT points, saved at the image's DPI, drawn at the image's displayed width, must be at
# least MIN_TEXT_PX pixels tall:
#
#     MIN_FONT_PT * dpi / 72 * displayed_px / natural_px >= MIN_TEXT_PX
#
# The DPI cancels for a figure shown scaled to the column: a figure stays legible up to
# max_figure_width_in() inches (11.9 in at 10 pt), whatever its DPI. Multi-panel figures wider than
# that are stacked (more rows, fewer columns) or split into several figures.

BOOK_COLUMN_PX = 688
FIGURE_DPI = 100
MIN_TEXT_PX = 8.0
FONT_PT = {"base": 10.0, "small": 10.0, "title": 11.0}   # matplotlib's own sizes: a figure drawn without
MIN_FONT_PT = FONT_PT["small"]   # the style obeys the same rule. The smallest text: tick labels, legends
COLUMN_WIDTH_IN = BOOK_COLUMN_PX / FIGURE_DPI


def figure_style() -> dict:
    """matplotlib rcParams of the course's figures: a column-wide default size, its DPI and font sizes."""
    return {"figure.figsize": (COLUMN_WIDTH_IN, COLUMN_WIDTH_IN * 0.62), "figure.dpi": FIGURE_DPI,
            "savefig.dpi": "figure", "font.size": FONT_PT["base"], "axes.titlesize": FONT_PT["title"],
            "axes.labelsize": FONT_PT["base"], "xtick.labelsize": FONT_PT["small"],
            "ytick.labelsize": FONT_PT["small"], "legend.fontsize": FONT_PT["small"],
            "legend.title_fontsize": FONT_PT["small"], "figure.titlesize": FONT_PT["title"]}


def use_book_style() -> None:
    """Apply :func:`figure_style` to every later figure of this process (call it once per notebook)."""
    plt.rcParams.update(figure_style())


def max_figure_width_in(font_pt: float = MIN_FONT_PT, column_px: float = BOOK_COLUMN_PX,
                        min_px: float = MIN_TEXT_PX) -> float:
    """The widest figure (inches) whose font_pt text stays >= min_px when scaled to the column."""
    return column_px * font_pt / (72.0 * min_px)


def text_px_on_page(natural_px: float, displayed_px: float, dpi: float = FIGURE_DPI,
                    font_pt: float = MIN_FONT_PT) -> float:
    """Height in CSS pixels of font_pt text in an image saved at dpi, natural_px wide, shown displayed_px wide."""
    if natural_px <= 0:
        raise ValueError("natural_px must be positive (an image that did not load has no size)")
    return font_pt * dpi / 72.0 * displayed_px / natural_px


def png_dpi(data: bytes) -> float | None:
    """The DPI a PNG records (its pHYs chunk, which matplotlib writes), or None when it has none."""
    import struct

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    i = 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"pHYs" and length == 9:
            x, _, unit = struct.unpack(">IIB", data[i + 8:i + 17])
            return x * 0.0254 if unit == 1 else None
        if kind in (b"IDAT", b"IEND"):
            return None
        i += 12 + length
    return None


# --- a live control in the static page: precomputed states switched in the browser -----------------

def state_switcher_html(controls, states: dict, uid: str, cmap: str = "viridis", vmin: float = 0.0,
                        vmax: float = 1.0, row_label: str = "query", col_label: str = "key") -> str:
    """Sliders over precomputed heatmaps, switched by a few lines of inline JavaScript (no kernel,
    nothing fetched): a slider widget that also works in the static book.

    ``controls``: [(name, label, [option, ...]), ...]; ``states``: {(option, option, ...): (matrix,
    caption)}, one entry for every combination, in the order of ``controls``. The answer shown for
    the current state (its caption) is the element ``#{uid}-out``.
    """
    import html as _html
    import itertools
    import json

    import matplotlib

    names = [c[0] for c in controls]
    data = {}
    for combo in itertools.product(*[range(len(c[2])) for c in controls]):
        key = tuple(c[2][i] for c, i in zip(controls, combo))
        if key not in states:
            raise KeyError(f"state_switcher_html: no state for {dict(zip(names, key))}")
        m, caption = states[key]
        m = np.asarray(m.detach().cpu() if hasattr(m, "detach") else m, dtype=float)
        data[",".join(map(str, combo))] = {"m": np.round(m, 3).tolist(), "c": str(caption)}
    lut = [matplotlib.colors.to_hex(matplotlib.colormaps[cmap](i / 63)) for i in range(64)]
    first = next(iter(states))
    start = [c[2].index(v) for c, v in zip(controls, first)]
    rows = "".join(
        f'<label style="display:flex;gap:0.6em;align-items:center;margin:0.2em 0;flex-wrap:wrap">'
        f'<span style="min-width:10em">{_html.escape(label)}</span>'
        f'<input type="range" id="{uid}-{name}" min="0" max="{len(opts) - 1}" step="1" value="{s}" '
        f'style="flex:1;min-width:8em;max-width:18em" aria-label="{_html.escape(label)}">'
        f'<span id="{uid}-{name}-value" style="min-width:4em;font-family:monospace">{_html.escape(str(opts[s]))}</span>'
        f'</label>' for (name, label, opts), s in zip(controls, start))
    script = f"""(function () {{
  const root = document.getElementById("{uid}");
  if (!root) return;
  const data = {json.dumps(data)}, lut = {json.dumps(lut)}, names = {json.dumps(names)};
  const options = {json.dumps([[str(o) for o in c[2]] for c in controls])};
  const lo = {vmin}, hi = {vmax};
  const update = () => {{
    const idx = names.map(n => document.getElementById("{uid}-" + n).value);
    names.forEach((n, i) => document.getElementById("{uid}-" + n + "-value").textContent = options[i][idx[i]]);
    const s = data[idx.join(",")];
    let h = '<table style="border-collapse:collapse;font-size:0.8em"><tr><th></th>';
    s.m[0].forEach((_, j) => h += '<th style="padding:0 0.3em;font-weight:normal">{col_label} ' + j + '</th>');
    h += '</tr>';
    s.m.forEach((row, i) => {{
      h += '<tr><th style="padding:0 0.3em;font-weight:normal;text-align:right">{row_label} ' + i + '</th>';
      row.forEach(v => {{
        const t = Math.max(0, Math.min(1, (v - lo) / (hi - lo))), k = Math.round(t * 63);
        h += '<td title="' + v.toFixed(3) + '" style="width:2.6em;height:1.8em;text-align:center;background:' + lut[k]
           + ';color:' + (t < 0.6 ? 'white' : 'black') + '">' + v.toFixed(2) + '</td>';
      }});
      h += '</tr>';
    }});
    document.getElementById("{uid}-view").innerHTML = h + '</table>';
    document.getElementById("{uid}-out").textContent = s.c;
  }};
  root.querySelectorAll("input").forEach(el => el.addEventListener("input", update));
  update();
}})();"""
    return (f'<div id="{uid}" class="state-switcher" data-answer="{uid}-out" style="max-width:100%;overflow-x:auto;'
            f'border:1px solid #ccc;border-radius:6px;padding:0.6em 0.8em">{rows}'
            f'<p style="margin:0.4em 0"><output id="{uid}-out" aria-live="polite">'
            f'{_html.escape(str(states[first][1]))}</output></p><div id="{uid}-view"></div></div>'
            f"<script>{script}</script>")


# --- Chinese (CJK) text in figures -----------------------------------------------------------------
#
# matplotlib's default font (DejaVu Sans) has no Chinese glyphs: tick labels in Chinese come out as
# empty boxes, with a "Glyph ... missing from font(s)" warning. cjk_font() looks for an installed font
# that has them; use_cjk_font() puts it first in matplotlib's font list.

CJK_FONT_NAMES = ("WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP",
                  "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "SimHei", "Microsoft YaHei",
                  "PingFang SC", "Heiti SC", "Arial Unicode MS", "AR PL UMing CN", "Droid Sans Fallback")
CJK_INSTALL_HINT = ("no CJK font found for matplotlib; to see Chinese characters in figures install one "
                    "(on Colab or Debian/Ubuntu: !apt-get install -y fonts-wqy-zenhei) and restart the runtime")


def cjk_font(sample: str = "中文字") -> str | None:
    """The family name of an installed font that can draw ``sample`` (Chinese by default), or None.

    Known CJK families are tried first, then any font whose character map covers the sample. Fonts
    installed after matplotlib built its font cache (e.g. ``apt-get install fonts-wqy-zenhei`` in a
    running Colab session) are found on the system and added to matplotlib's font list.
    """
    from matplotlib import font_manager as fm
    from matplotlib.ft2font import FT2Font

    if not sample:
        raise ValueError("cjk_font: sample must contain at least one character")

    def covers(path: str) -> bool:
        try:
            charmap = FT2Font(path).get_charmap()
        except (OSError, RuntimeError, ValueError):
            return False
        return all(ord(ch) in charmap for ch in sample)

    def search() -> str | None:
        by_name: dict[str, list[str]] = {}
        for entry in fm.fontManager.ttflist:
            if not entry.name.startswith("Last Resort"):   # draws a placeholder box for every character
                by_name.setdefault(entry.name, []).append(entry.fname)
        for name in CJK_FONT_NAMES:
            if any(covers(path) for path in by_name.get(name, ())):
                return name
        for name, paths in sorted(by_name.items()):
            if any(covers(path) for path in paths):
                return name
        return None

    found = search()
    if found is None:   # not in matplotlib's cached list: look at the system's font files once
        known = {entry.fname for entry in fm.fontManager.ttflist}
        for path in fm.findSystemFonts():
            if path not in known and path.lower().endswith((".ttf", ".ttc", ".otf")) and covers(path):
                fm.fontManager.addfont(path)
        found = search()
    return found


def use_cjk_font(sample: str = "中文字", quiet: bool = False) -> str | None:
    """Make later figures draw Chinese text: put an installed CJK font first in matplotlib's sans-serif
    list (Latin text keeps working through the fallback to the next fonts). Returns the font's name, or
    None, after printing how to install one (unless ``quiet``): the caller then labels by position."""
    import dataclasses

    from matplotlib import font_manager as fm

    name = cjk_font(sample)
    if name is None:
        if not quiet:
            print(CJK_INSTALL_HINT)
        return None
    entries = [e for e in fm.fontManager.ttflist if e.name == name]
    if entries and not any(fm.weight_dict.get(e.weight, e.weight) == 400 for e in entries):
        # a font with one regular face that declares another weight (WenQuanYi Zen Hei says 500): list that
        # face as the normal weight too, or matplotlib logs "Failed to find font weight normal" for every text
        fm.fontManager.ttflist.append(dataclasses.replace(entries[0], weight=400))
    current = [f for f in plt.rcParams["font.sans-serif"] if f != name]
    plt.rcParams["font.sans-serif"] = [name, *current]
    if plt.rcParams["font.family"] != ["sans-serif"]:
        plt.rcParams["font.family"] = ["sans-serif"]
    plt.rcParams["axes.unicode_minus"] = False   # CJK fonts often lack the Unicode minus sign
    return name


# Results tables live in course_utils.tables; importable from here too.
from course_utils.tables import Table, show_table  # noqa: E402,F401 - re-exported
