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
