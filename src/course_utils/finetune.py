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

import math
import random
import re
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LABELS = ("negative", "positive")
DEFAULT_MAX_LENGTH = 64


class UntrainedHeadWarning(UserWarning):
    """Predictions come from a classification head that was never trained (they are noise)."""


# ---------------------------------------------------------------- batches

def encode(tokenizer, texts: Sequence[str], labels: Sequence[int] | None = None,
           max_length: int = DEFAULT_MAX_LENGTH) -> dict[str, torch.Tensor]:
    """Tokenize texts into one padded batch (truncated to ``max_length`` tokens, [CLS] ... [SEP])."""
    if isinstance(texts, str):
        raise TypeError("encode expects a list of texts, not one string: wrap it as [text]")
    batch = tokenizer([str(t) for t in texts], padding=True, truncation=True,
                      max_length=max_length, return_tensors="pt")
    out = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if labels is not None:
        if len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels: they must pair up")
        out["labels"] = torch.as_tensor(list(labels), dtype=torch.long)
    return out


def bucket_batches(tokenizer, texts: Sequence[str], labels: Sequence[int], batch_size: int = 32,
                   max_length: int = DEFAULT_MAX_LENGTH, seed: int = 0,
                   bucket: bool = True) -> list[dict[str, torch.Tensor]]:
    """Shuffled batches; with ``bucket`` each batch holds texts of similar length (less padding).

    Texts are sorted by length inside random chunks of 50 batches, cut into batches, and the
    batches are shuffled, so the order stays random but a batch wastes little compute on padding.
    """
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"need as many labels as texts (got {len(texts)} and {len(labels)}), and at least one")
    rng = random.Random(seed)
    ids = tokenizer([str(t) for t in texts], truncation=True, max_length=max_length)["input_ids"]
    order = list(range(len(texts)))
    rng.shuffle(order)
    if bucket:
        chunk = batch_size * 50
        order = [i for s in range(0, len(order), chunk)
                 for i in sorted(order[s:s + chunk], key=lambda j: len(ids[j]))]
    groups = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    pad = tokenizer.pad_token_id
    batches = []
    for g in groups:
        width = max(len(ids[i]) for i in g)
        input_ids = torch.full((len(g), width), pad, dtype=torch.long)
        mask = torch.zeros((len(g), width), dtype=torch.long)
        for row, i in enumerate(g):
            input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
            mask[row, :len(ids[i])] = 1
        batches.append({"input_ids": input_ids, "attention_mask": mask,
                        "labels": torch.tensor([int(labels[i]) for i in g])})
    return batches


def length_sorted_batches(tokenizer, texts: Sequence[str], batch_size: int = 64,
                          max_length: int = DEFAULT_MAX_LENGTH) -> list[tuple[list[int], dict[str, torch.Tensor]]]:
    """Inference batches of texts of similar token length: ``(positions in texts, padded batch)`` pairs.

    Each batch is padded only to its own longest text, so sorting first wastes little compute on
    padding (on SST-2's dev set, half the time of batches in file order). Put each batch's outputs
    back at its positions to keep the texts' order.
    """
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, not one string: wrap it as [text]")
    texts = [str(t) for t in texts]
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"] if texts else []
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    return [(order[s:s + batch_size], encode(tokenizer, [texts[i] for i in order[s:s + batch_size]],
                                             max_length=max_length))
            for s in range(0, len(order), batch_size)]


def padding_share(batches: Sequence[dict[str, torch.Tensor]]) -> float:
    """Fraction of token positions in the batches that are padding (wasted compute)."""
    total = sum(b["attention_mask"].numel() for b in batches)
    return 1.0 - sum(int(b["attention_mask"].sum()) for b in batches) / total


# ---------------------------------------------------------------- model pieces

def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors that are not padding: (batch, seq, dim) -> (batch, dim)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def cls_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The vector of the first token, [CLS]: (batch, seq, dim) -> (batch, dim)."""
    return hidden[:, 0]


def classification_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of a sequence classifier on a batch with labels (loss_fn for ``train``)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits if hasattr(out, "logits") else out
    return F.cross_entropy(logits.float(), batch["labels"])


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) number of parameters."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


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


@torch.no_grad()
def embed(encoder: nn.Module, tokenizer, texts: Sequence[str], pooling: str = "mean",
          batch_size: int = 64, max_length: int = DEFAULT_MAX_LENGTH) -> np.ndarray:
    """Sentence vectors from a (frozen) encoder with "mean" or "cls" pooling, shape (n, dim)."""
    pool = {"mean": mean_pool, "cls": cls_pool}.get(pooling)
    if pool is None:
        raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
    encoder.eval()
    device = next(encoder.parameters()).device
    out = None
    for idx, b in length_sorted_batches(tokenizer, texts, batch_size, max_length):
        b = {k: v.to(device) for k, v in b.items()}
        vectors = pool(encoder(**b).last_hidden_state, b["attention_mask"]).float().cpu().numpy()
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[idx] = vectors
    if out is None:   # no texts
        out = np.zeros((0, int(getattr(getattr(encoder, "config", None), "hidden_size", 0))), dtype=np.float32)
    return out


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

def lora_parameter_count(model: nn.Module, rank: int, target_modules: Sequence[str],
                         layers: Sequence[int] | None = None, train_pooler: bool = False) -> int:
    """LoRA's added parameters by hand: r * (d_in + d_out) per adapted nn.Linear (A: r x d_in, B: d_out x r).

    With ``layers`` only the linears inside those Transformer layers count (as ``add_peft(layers=...)``);
    with ``train_pooler=True`` the pooler is trained in full and takes no LoRA (as in ``add_peft``).
    A target names a module by its last part (``"dense"``: every dense layer) or by a dotted ending
    (``"attention.output.dense"``: only the attention's output projection), as peft matches them.
    """
    total = 0
    for name, module in model.named_modules():
        module = getattr(module, "base_layer", module)   # already wrapped by peft: count the original
        if not (isinstance(module, nn.Linear) and _targeted(name, target_modules)):
            continue
        in_layer = re.search(r"encoder\.layer\.(\d+)\.", name)
        if in_layer is None:   # outside the Transformer layers: the pooler
            adapted = layers is None and not train_pooler
        else:
            adapted = layers is None or int(in_layer.group(1)) in layers
        if adapted:
            total += rank * (module.in_features + module.out_features)
    if total == 0:
        raise ValueError(f"no nn.Linear named {list(target_modules)} in the model"
                         + (f" inside layers {tuple(layers)}" if layers is not None else "") + ": check target_modules")
    return total


def _targeted(name: str, target_modules: Sequence[str]) -> bool:
    return any(name == t or name.endswith("." + t) for t in target_modules)


ALL_LINEAR = ("query", "key", "value", "dense")   # "dense": attention output, FFN in/out, pooler
ATTENTION = ("query", "key", "value", "attention.output.dense")   # self-attention only, no FFN
LAYERED = ("lora", "shira")   # adapters placed by rank, target modules and Transformer layers


def shira_mask(base_layer: nn.Module, r: int, **_: Any) -> torch.Tensor:
    """SHiRA's random sparse mask: ``r * (out + in)`` entries of the weight (LoRA's count at rank ``r``).

    Drawn from PyTorch's global generator, so ``torch.manual_seed`` (or the seed of
    :func:`train_classifier`) makes it reproducible and every matrix gets its own pattern (peft's
    built-in ``random_mask`` gives every matrix of the same shape the same entries).
    """
    out_f, in_f = base_layer.weight.shape
    if not 0 < r * (out_f + in_f) <= out_f * in_f:
        raise ValueError(f"SHiRA at rank {r} would train {r * (out_f + in_f):,} entries of a {out_f} x {in_f} "
                         f"weight, which has {out_f * in_f:,}: use a rank from 1 to {out_f * in_f // (out_f + in_f)}")
    chosen = torch.randperm(out_f * in_f)[: r * (out_f + in_f)]
    mask = torch.zeros(out_f * in_f, dtype=base_layer.weight.dtype, device=base_layer.weight.device)
    mask[chosen.to(mask.device)] = 1
    return mask.view(out_f, in_f)


def add_peft(model: nn.Module, method: str = "lora", rank: int = 8,
             target_modules: Sequence[str] = ALL_LINEAR, alpha: int | None = None,
             dropout: float = 0.1, train_pooler: bool = False, init: str = "default",
             layers: Sequence[int] | None = None):
    """Wrap a classifier with a peft adapter ("lora", "shira" or "ia3"); the head stays trainable.

    LoRA adapts ``target_modules`` (default: every linear layer; a name may be a dotted ending, as
    in ``ATTENTION``, which leaves the feed-forward blocks out); IA3 uses peft's BERT default.
    SHiRA (sparse high-rank adapter) trains, in the same matrices, a random ``rank * (out + in)``
    of each weight's own entries directly: as many numbers as LoRA at that rank, but an update of
    full rank unless the rank is tiny (:func:`shira_mask` draws the entries).
    ``train_pooler=True`` trains the pooler (the dense + tanh layer between [CLS] and the
    classifier, part of the classification head) in full like the classifier, and keeps the adapter to
    the Transformer layers. ``init="pissa"`` starts LoRA from the principal singular directions
    of each weight (PiSSA) instead of B = 0. ``layers`` (e.g. ``(2, 3, 4, 5)``) puts LoRA or SHiRA in
    those Transformer layers only: the layers below the lowest of them hold nothing to train, so the
    backward pass never enters them.
    """
    from peft import IA3Config, LoraConfig, ShiraConfig, TaskType, get_peft_model

    if layers is not None and method not in LAYERED:
        raise ValueError(f"layers applies to method='lora' or 'shira', not {method!r}")
    extra = {"modules_to_save": ["pooler"]} if train_pooler else {}
    if method in LAYERED:
        targets: Sequence[str] | str = list(target_modules)
        n_layers = model.config.num_hidden_layers
        if layers is not None and (not layers or any(not 0 <= int(i) < n_layers for i in layers)):
            raise ValueError(f"layers must list Transformer layers in 0..{n_layers - 1} (or be None for "
                             f"all of them), not {tuple(layers)}")
        if train_pooler or layers is not None:   # a regex (peft matches it against full module names)
            which = r"\d+" if layers is None else "(" + "|".join(str(int(i)) for i in layers) + ")"
            names = "|".join(re.escape(t) for t in target_modules)
            targets = r".*encoder\.layer\." + which + r"\.(.*\.)?(" + names + ")$"
        if init not in ("default", "pissa") or (method == "shira" and init != "default"):
            raise ValueError(f"init must be 'default' (or 'pissa' for LoRA), not {init!r}")
        if method == "lora":
            cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha or 2 * rank,
                             lora_dropout=dropout, target_modules=targets,
                             init_lora_weights=True if init == "default" else init, **extra)
        else:
            with warnings.catch_warnings():   # peft warns that "custom" is no mask it knows; it gets ours
                warnings.filterwarnings("ignore", message=".*supply your own masking function.*")
                cfg = ShiraConfig(task_type=TaskType.SEQ_CLS, r=rank, target_modules=targets, mask_type="custom",
                                  # the pooler's linear layer, not the pooler: peft 0.21's SHiRA cannot
                                  # merge a saved module that has no weight of its own
                                  **({"modules_to_save": ["pooler.dense"]} if train_pooler else {}))
            cfg.mask_fn = shira_mask
    elif method == "ia3":
        cfg = IA3Config(task_type=TaskType.SEQ_CLS, **extra)  # peft's BERT default: key, value, FFN output
    else:
        raise ValueError(f"method must be 'lora', 'shira' or 'ia3', not {method!r}")
    with warnings.catch_warnings():   # peft calls a transformers method deprecated in v5
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        if method == "shira":   # SHiRA adds its update as a sparse tensor; saying so explicitly keeps
            torch.sparse.check_sparse_tensor_invariants.disable()   # PyTorch from warning at every new shape
        return get_peft_model(model, cfg)


# ---------------------------------------------------------------- one call

@dataclass
class ClassifierConfig:
    """Settings of :func:`train_classifier` (benchmarks/finetune_sst2.py lists what it changes)."""

    method: str = "full"               # "full" | "lora" | "shira" | "ia3"
    lr: float | None = None            # None: 1e-4 full, 2e-3 lora, 3e-3 shira and ia3
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


DEFAULT_LR = {"full": 1e-4, "lora": 2e-3, "shira": 3e-3, "ia3": 3e-3}


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
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise TypeError(f"unknown setting {k!r}; see ClassifierConfig")
        setattr(cfg, k, v)
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
