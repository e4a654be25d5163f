"""Fine-tuning MiniLM for sentence classification (chapter 4), reused by chapter 5's sentiment monitor.

The simple API::

    tokenizer, model, history = train_classifier(texts, labels, method="lora", max_seconds=60)
    probs = predict_proba(model, tokenizer, ["a gripping, funny film", "a dull mess"])  # (2, 2)
    save_classifier(model, tokenizer, "checkpoints/sst2")       # later: load_trained_classifier(...)
    clf = TextClassifier(model, tokenizer); clf.classify(["great!"])   # -> ["positive"]

Everything else here is a small building block the notebooks show one at a time: length-bucketed
batches, the loss for :func:`course_utils.train.train`, pooling, evaluation, parameter counts.
"""
from __future__ import annotations

import dataclasses
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.models import count_parameters  # noqa: F401 - re-exported
from course_utils.peft import ALL_LINEAR, ATTENTION, METHODS, add_peft, lora_parameter_count, shira_mask  # noqa: F401 - re-exported
from course_utils.text import (DEFAULT_MAX_LENGTH, bucket_batches, cls_pool, embed, encode,  # noqa: F401 - re-exported
                               length_sorted_batches, mean_pool, padding_share)

# Re-exported above for the notebooks: batching, pooling and embed live in course_utils.text, the
# PEFT methods in course_utils.peft; this module trains and uses classifiers.
LABELS = ("negative", "positive")


class UntrainedHeadWarning(UserWarning):
    """Predictions come from a classification head that was never trained (they are noise)."""


# ---------------------------------------------------------------- model pieces

def classification_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of a sequence classifier on a batch with labels (loss_fn for ``train``)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits if hasattr(out, "logits") else out
    return F.cross_entropy(logits.float(), batch["labels"])


def load_classifier(num_labels: int = 2):
    """(tokenizer, model): MiniLM with a new, untrained classification head (quietly loaded)."""
    from transformers.utils import logging as hf_logging

    from course_utils.models import load_minilm

    hf_logging.disable_progress_bar()
    try:
        return load_minilm("classification", num_labels=num_labels)
    finally:
        hf_logging.enable_progress_bar()


def _head_biases(model: nn.Module) -> list[torch.Tensor]:
    named = [(n, p) for n, p in model.named_parameters() if "classifier" in n and n.endswith("bias")]
    saved = [p for n, p in named if "modules_to_save" in n]   # peft's trainable copy of the head
    return saved or [p for _, p in named]


def head_is_untrained(model: nn.Module) -> bool:
    """True when the classification head still has its initial all-zero bias (never updated).

    A freshly initialised Hugging Face head has bias exactly 0; one optimizer step changes it.
    """
    biases = _head_biases(model)
    return bool(biases) and all(bool((b == 0).all()) for b in biases)


# ---------------------------------------------------------------- prediction

@torch.no_grad()
def predict_proba(model: nn.Module, tokenizer, texts: Sequence[str], batch_size: int = 64,
                  max_length: int = DEFAULT_MAX_LENGTH, device: torch.device | str | None = None,
                  amp: str = "off") -> np.ndarray:
    """Class probabilities, shape (len(texts), num_labels); warns if the head was never trained.

    Texts longer than ``max_length`` tokens are truncated (the model sees only their beginning);
    empty strings become "[CLS] [SEP]" and still get a prediction.
    """
    from course_utils.train import autocast_context

    if isinstance(texts, str):
        raise TypeError("predict_proba expects a list of texts, not one string: wrap it as [text]")
    if head_is_untrained(model):
        warnings.warn("this model's classification head was never trained: its predictions are "
                      "random. Train it first (e.g. finetune.train_classifier).", UntrainedHeadWarning,
                      stacklevel=2)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = None
    for idx, batch in length_sorted_batches(tokenizer, texts, batch_size, max_length):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast_context(device, amp):
            out = model(**batch)
        logits = out.logits if hasattr(out, "logits") else out
        if probs is None:   # as many columns as the model has outputs
            probs = np.zeros((len(texts), logits.shape[-1]), dtype=np.float32)
        probs[idx] = torch.softmax(logits.float(), -1).cpu().numpy()
    model.train(was_training)
    if probs is None:   # no texts
        probs = np.zeros((0, int(getattr(getattr(model, "config", None), "num_labels", 2))), dtype=np.float32)
    return probs


def classify(model: nn.Module, tokenizer, texts: Sequence[str], **kwargs: Any) -> list[str]:
    """Label names ("negative" / "positive") for texts."""
    return [LABELS[i] for i in predict_proba(model, tokenizer, texts, **kwargs).argmax(1)]


# ---------------------------------------------------------------- evaluation

def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_labels: int = 2) -> np.ndarray:
    """Counts: row = true label, column = predicted label."""
    m = np.zeros((num_labels, num_labels), dtype=int)
    for t, p in zip(y_true, y_pred):
        m[int(t), int(p)] += 1
    return m


def evaluate_classifier(model: nn.Module, tokenizer, texts: Sequence[str], labels: Sequence[int],
                        **kwargs: Any) -> dict[str, Any]:
    """Accuracy, confusion matrix and probabilities of a classifier on labelled texts."""
    probs = predict_proba(model, tokenizer, texts, **kwargs)
    pred = probs.argmax(1)
    y = np.asarray(labels)
    return {"accuracy": float((pred == y).mean()), "confusion": confusion_matrix(y, pred, probs.shape[1]),
            "probs": probs, "pred": pred}


def most_confidently_wrong(texts: Sequence[str], labels: Sequence[int], probs: np.ndarray,
                           k: int = 5) -> list[tuple[str, int, float]]:
    """The k misclassified texts with the highest predicted probability: (text, true label, p(wrong))."""
    pred = probs.argmax(1)
    wrong = [i for i in range(len(texts)) if pred[i] != labels[i]]
    wrong.sort(key=lambda i: -probs[i, pred[i]])
    return [(texts[i], int(labels[i]), float(probs[i, pred[i]])) for i in wrong[:k]]


# ---------------------------------------------------------------- PEFT

# ---------------------------------------------------------------- one call

@dataclass
class ClassifierConfig:
    """Settings of :func:`train_classifier` (benchmarks/finetune_sst2.py lists what it changes)."""

    method: str = "full"               # "full" or a course_utils.peft method: "lora" | "shira" | "ia3"
    lr: float | None = None            # None: DEFAULT_LR[method] (1e-4 full; each PEFT method its own)
    batch_size: int = 32
    max_length: int = DEFAULT_MAX_LENGTH
    epochs: float = 1.0
    warmup_share: float = 0.06
    schedule: str = "linear"
    amp: str = "native"                # bf16 where the hardware computes in bf16, else fp32 (train.resolve_amp)
    max_seconds: float | None = None   # a time budget; the learning rate decays over it
    dropout: float | None = None       # None keeps MiniLM's and peft's 0.1; 0 switches all dropout off
    loraplus_ratio: float | None = None  # LoRA+: the B matrices learn this many times faster than A
    layer_decay: float | None = None   # layer-wise rate decay: each layer down learns this much slower
    train_pooler: bool = False         # LoRA/IA3: train the pooler in full with the classifier
    lora_init: str = "default"         # "default" (B = 0) or "pissa" (principal singular vectors)
    rank: int = 8
    target_modules: tuple[str, ...] = ALL_LINEAR
    lora_layers: tuple[int, ...] | None = None   # LoRA/SHiRA in these Transformer layers only (None: all)
    seed: int = 0


DEFAULT_LR = {"full": 1e-4, **{name: m.default_lr for name, m in METHODS.items()}}
LAYERED = tuple(name for name, m in METHODS.items() if m.layered)   # placed by rank, targets and layers


def layer_decay_scale(n_layers: int, decay: float):
    """Layer-wise learning-rate decay (Howard & Ruder 2018; Clark et al. 2020): a function from a
    parameter's name to its rate multiplier. The classifier and pooler keep the full rate, the top
    Transformer layer ``decay``, each layer below it one more factor of ``decay``, and the
    embeddings the smallest, ``decay ** (n_layers + 1)``: the layers nearest the input hold the most
    general features and change least."""
    layer = re.compile(r"\.layer\.(\d+)\.")

    def scale(name: str) -> float:
        m = layer.search(name)
        if m:
            return decay ** (n_layers - int(m.group(1)))
        if ".embeddings." in name or name.startswith("embeddings."):
            return decay ** (n_layers + 1)
        return 1.0
    return scale


def train_classifier(texts: Sequence[str], labels: Sequence[int], config: ClassifierConfig | None = None,
                     *, device: torch.device | str | None = None, eval_data: tuple | None = None,
                     **overrides: Any):
    """Fine-tune MiniLM on labelled texts; returns (tokenizer, model, history).

    ``method="full"`` trains every weight, ``"lora"``/``"shira"``/``"ia3"`` only a peft adapter and the head.
    With ``max_seconds`` the learning rate decays over the time budget (or over the data, if that
    runs out first) and training stops when the budget is spent, however fast the machine is.
    """
    from course_utils.runtime import get_device, seed_everything
    from course_utils.train import TrainConfig, make_optimizer, resolve_amp, train

    cfg = config or ClassifierConfig()
    unknown = [k for k in overrides if not hasattr(cfg, k)]
    if unknown:
        raise TypeError(f"unknown setting {unknown[0]!r}; see ClassifierConfig")
    cfg = dataclasses.replace(cfg, **overrides)   # the caller's config is left as it was
    if cfg.method != "full" and cfg.method not in METHODS:
        raise ValueError(f"method must be 'full' or one of {', '.join(repr(m) for m in METHODS)}, not {cfg.method!r}")
    if cfg.loraplus_ratio and cfg.method != "lora":   # bad settings fail before anything is loaded
        raise ValueError(f"loraplus_ratio applies to method='lora', not {cfg.method!r}")
    if cfg.layer_decay is not None and not 0.0 < cfg.layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1] (1 = no decay), not {cfg.layer_decay}")
    if cfg.dropout is not None and not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {cfg.dropout}")
    device = torch.device(device) if device is not None else get_device()
    resolve_amp(device, cfg.amp)
    seed_everything(cfg.seed)
    tokenizer, model = load_classifier()
    if cfg.dropout is not None:
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = cfg.dropout
    if cfg.method != "full":
        model = add_peft(model, cfg.method, rank=cfg.rank, target_modules=cfg.target_modules,
                         dropout=0.1 if cfg.dropout is None else cfg.dropout, train_pooler=cfg.train_pooler,
                         init=cfg.lora_init, layers=cfg.lora_layers)
    model.to(device)
    epochs = max(1, math.ceil(cfg.epochs))
    batches = [b for e in range(epochs) for b in
               bucket_batches(tokenizer, texts, labels, cfg.batch_size, cfg.max_length, seed=cfg.seed + e)]
    steps = max(1, int(len(batches) * cfg.epochs / epochs))
    tc = TrainConfig(max_steps=steps, lr=cfg.lr or DEFAULT_LR[cfg.method], weight_decay=0.01,
                     betas=(0.9, 0.999), warmup_steps=int(cfg.warmup_share * steps), min_lr_ratio=0.0,
                     schedule=cfg.schedule, amp=cfg.amp, max_seconds=cfg.max_seconds,
                     schedule_clock="time" if cfg.max_seconds else "steps",
                     eval_every=max(1, steps // 4), eval_batches=1, progress=True)
    evals = None
    if eval_data is not None:
        dev = encode(tokenizer, eval_data[0], eval_data[1], max_length=cfg.max_length)
        evals = {"dev": [dev]}
    scales = []
    if cfg.loraplus_ratio:
        # LoRA+ (Hayou et al. 2024): B starts at zero and needs a larger step than A
        scales.append(lambda n: cfg.loraplus_ratio if "lora_B" in n else 1.0)
    if cfg.layer_decay is not None:
        scales.append(layer_decay_scale(model.config.num_hidden_layers, cfg.layer_decay))
    optimizer = make_optimizer(model, tc, lr_scale=lambda n: math.prod(f(n) for f in scales)) if scales else None
    history = train(model, batches, tc, loss_fn=classification_loss, device=device, eval_data=evals,
                    items_fn=lambda b: int(b["labels"].numel()), optimizer=optimizer)
    model.eval()
    return tokenizer, model, history


# ---------------------------------------------------------------- saving and reuse

def save_classifier(model: nn.Module, tokenizer, path) -> None:
    """Save a trained classifier (LoRA/IA3 adapters merged in) as a plain Hugging Face folder."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def load_trained_classifier(path):
    """(tokenizer, model) saved by :func:`save_classifier`, in eval mode."""
    from pathlib import Path

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (Path(path) / "config.json").is_file():
        raise FileNotFoundError(f"{path} holds no saved classifier: create it with save_classifier(model, tokenizer, path)")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    finally:
        hf_logging.enable_progress_bar()
    return AutoTokenizer.from_pretrained(path), model


@dataclass
class TextClassifier:
    """A trained model and its tokenizer behind two calls: ``predict_proba(texts)`` and ``classify(texts)``."""

    model: nn.Module
    tokenizer: Any
    max_length: int = DEFAULT_MAX_LENGTH

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (len(texts), 2): column 1 is p(positive)."""
        return predict_proba(self.model, self.tokenizer, texts, max_length=self.max_length)

    def classify(self, texts: Sequence[str]) -> list[str]:
        """ "negative" / "positive" per text."""
        return classify(self.model, self.tokenizer, texts, max_length=self.max_length)


# ---------------------------------------------------------------- measured results

def load_predictions(profile: str, method: str = "full", name: str = "finetune_sst2") -> dict | None:
    """Stored dev/test p(positive) of a benchmarked model ({"dev_p_positive": [...], ...}) or None."""
    from course_utils import results

    preds = results.load(f"{name}_predictions", profile)
    return preds["methods"].get(method) if preds else None


def measured_row(profile: str, method: str, name: str = "finetune_sst2") -> dict | None:
    """One method's row of the measured results for a profile (None: not yet measured)."""
    from course_utils import results

    res = results.load(name, profile)
    rows = {r["method"]: r for r in res["rows"]} if res else {}
    return rows.get(method)
