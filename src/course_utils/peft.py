"""Parameter-efficient fine-tuning (chapter 4): every method in one registry.

    model = add_peft(classifier, "lora", rank=8)          # or "shira", "ia3", "prefix"
    METHODS["lora"].default_lr                            # 2e-3: the rate the course trains it with

A method is a :class:`PeftMethod`: how to build its peft configuration, the learning rate it is
trained with, and where its trainable numbers sit. Adding a method is one ``register(...)`` call
here, its test, and the notebooks that show it; ``finetune.train_classifier``, the benchmark and
chapter 6 take every registered method by name.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

ALL_LINEAR = ("query", "key", "value", "dense")   # "dense": attention output, FFN in/out, pooler
ATTENTION = ("query", "key", "value", "attention.output.dense")   # self-attention only, no FFN


@dataclass(frozen=True)
class PeftMethod:
    """One PEFT method: ``build(model, settings)`` returns its peft configuration."""

    name: str
    label: str                 # how tables and plots name it ("LoRA")
    build: Callable[[nn.Module, "Settings"], Any]
    default_lr: float          # the learning rate train_classifier uses unless told otherwise
    where: str                 # where the trainable numbers sit (shown in tables and errors)
    layered: bool = False      # placed by rank, target modules and Transformer layers
    inits: tuple[str, ...] = ("default",)


@dataclass(frozen=True)
class Settings:
    """What add_peft was asked for, passed to each method's ``build``."""

    rank: int
    target_modules: Sequence[str]
    alpha: int | None
    dropout: float
    train_pooler: bool
    init: str
    layers: Sequence[int] | None
    targets: Sequence[str] | str      # target_modules as peft matches them (a regex with layers/pooler)


METHODS: dict[str, PeftMethod] = {}


def register(method: PeftMethod) -> PeftMethod:
    """Add a method to the registry (its name must be new)."""
    if method.name in METHODS or method.name == "full":
        raise ValueError(f"a PEFT method named {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


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


def _lora(model: nn.Module, s: Settings):
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.SEQ_CLS, r=s.rank, lora_alpha=s.alpha or 2 * s.rank,
                      lora_dropout=s.dropout, target_modules=s.targets,
                      init_lora_weights=True if s.init == "default" else s.init,
                      **({"modules_to_save": ["pooler"]} if s.train_pooler else {}))


def _shira(model: nn.Module, s: Settings):
    from peft import ShiraConfig, TaskType

    with warnings.catch_warnings():   # peft warns that "custom" is no mask it knows; it gets ours
        warnings.filterwarnings("ignore", message=".*supply your own masking function.*")
        cfg = ShiraConfig(task_type=TaskType.SEQ_CLS, r=s.rank, target_modules=s.targets, mask_type="custom",
                          # the pooler's linear layer, not the pooler: peft 0.21's SHiRA cannot
                          # merge a saved module that has no weight of its own
                          **({"modules_to_save": ["pooler.dense"]} if s.train_pooler else {}))
    cfg.mask_fn = shira_mask
    # SHiRA adds its update as a sparse tensor; saying so explicitly keeps PyTorch from warning at every new shape
    torch.sparse.check_sparse_tensor_invariants.disable()
    return cfg


def _ia3(model: nn.Module, s: Settings):
    from peft import IA3Config, TaskType

    # peft's BERT default: key, value, FFN output
    return IA3Config(task_type=TaskType.SEQ_CLS, **({"modules_to_save": ["pooler"]} if s.train_pooler else {}))


def _prefix(model: nn.Module, s: Settings):
    from peft import PrefixTuningConfig, TaskType

    # PREFIX_TOKENS trained key and value vectors in front of every layer's attention (Li & Liang
    # 2021; P-tuning v2 for classifiers with a head, Liu et al. 2022); rank and targets do not apply
    return PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=PREFIX_TOKENS,
                              **({"modules_to_save": ["pooler"]} if s.train_pooler else {}))


PREFIX_TOKENS = 20

register(PeftMethod("lora", "LoRA", _lora, 2e-3, "two low-rank matrices B A beside each targeted linear layer",
                    layered=True, inits=("default", "pissa")))
register(PeftMethod("shira", "SHiRA", _shira, 3e-3, "a random sparse set of entries of each targeted weight", layered=True))
register(PeftMethod("ia3", "IA3", _ia3, 3e-3, "a scaling vector on the keys, values and feed-forward outputs"))
# 5e-3 and 20 tokens: within what P-tuning v2's run scripts use for BERT and RoBERTa classifiers
# (github.com/THUDM/P-tuning-v2, run_script/: learning rates 5e-3 to 1e-2, prefixes of 20 to 128 tokens,
# e.g. BERT-large on RTE 1e-2 with 20); not tuned here
register(PeftMethod("prefix", "prefix tuning", _prefix, 5e-3, f"{PREFIX_TOKENS} trained key/value vectors before each layer's tokens"))


def add_peft(model: nn.Module, method: str = "lora", rank: int = 8,
             target_modules: Sequence[str] = ALL_LINEAR, alpha: int | None = None,
             dropout: float = 0.1, train_pooler: bool = False, init: str = "default",
             layers: Sequence[int] | None = None):
    """Wrap a classifier with a registered peft adapter (``METHODS``: "lora", "shira", "ia3",
    "prefix"); the head stays trainable.

    LoRA adapts ``target_modules`` (default: every linear layer; a name may be a dotted ending, as
    in ``ATTENTION``, which leaves the feed-forward blocks out); IA3 uses peft's BERT default;
    prefix tuning trains ``PREFIX_TOKENS`` key/value vectors per layer that every token attends to.
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
    from peft import get_peft_model

    spec = METHODS.get(method)
    if spec is None:
        raise ValueError(f"method must be one of {', '.join(repr(m) for m in METHODS)}, not {method!r}")
    if layers is not None and not spec.layered:
        layered = " or ".join(repr(m.name) for m in METHODS.values() if m.layered)
        raise ValueError(f"layers applies to method={layered}, not {method!r}")
    targets: Sequence[str] | str = list(target_modules)
    if spec.layered:
        n_layers = model.config.num_hidden_layers
        if layers is not None and (not layers or any(not 0 <= int(i) < n_layers for i in layers)):
            raise ValueError(f"layers must list Transformer layers in 0..{n_layers - 1} (or be None for "
                             f"all of them), not {tuple(layers)}")
        if train_pooler or layers is not None:   # a regex (peft matches it against full module names)
            which = r"\d+" if layers is None else "(" + "|".join(str(int(i)) for i in layers) + ")"
            names = "|".join(re.escape(t) for t in target_modules)
            targets = r".*encoder\.layer\." + which + r"\.(.*\.)?(" + names + ")$"
    if init not in spec.inits:
        raise ValueError(f"init must be {' or '.join(repr(i) for i in spec.inits)} for {method!r}, not {init!r}")
    cfg = spec.build(model, Settings(rank, tuple(target_modules), alpha, dropout, train_pooler, init,
                                     None if layers is None else tuple(layers), targets))
    with warnings.catch_warnings():   # peft calls a transformers method deprecated in v5
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, cfg)
