"""From language model to assistant: instruction data, the answer-only loss mask, sequence
log-probabilities and the DPO loss (chapter 4, notebooks 6 and 7).

Instruction data is built offline from what the course already ships, with no new download:

- ``sentiment``: SST-2 sentences (Socher et al. 2013, GLUE distribution; the course's data README
  gives its licence) -> the answer ``positive`` or ``negative``, one word, nothing else;
- ``translation``: Tatoeba cmn-eng pairs (CC-BY 2.0 FR, via manythings.org) -> the Chinese sentence only;
- ``definition``: the course's own glossary (chapters/*/glossary.csv, the course's licence) -> the definition.

The held-out split is decided by a hash of the prompt text, so it is the same on every machine,
and a prompt (even one that occurs twice in the source) is never on both sides.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

SYSTEM = "You are a helpful assistant."
SENTIMENT_PROMPT = "Is the sentiment of this movie review positive or negative? Answer with one word.\n\n{text}"
TRANSLATION_PROMPT = "Translate into Chinese. Give only the translation.\n\n{text}"
DEFINITION_PROMPT = "Define the term '{text}' in one sentence."
LABEL_WORDS = ("negative", "positive")     # SST-2 label 0, 1
IGNORE = -100                              # the label PyTorch's cross-entropy skips


@dataclass(frozen=True)
class Instruction:
    """One instruction example: the user's prompt, the reference answer and the task it comes from."""

    prompt: str
    answer: str
    task: str


def input_text(prompt: str) -> str:
    """The text an instruction's prompt is about (the review, the sentence): its last paragraph."""
    return prompt.split("\n\n")[-1]


def sentiment_examples(texts: Sequence[str], labels: Sequence[int]) -> list[Instruction]:
    """SST-2 sentences -> the one-word answer ``positive`` / ``negative``."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    return [Instruction(SENTIMENT_PROMPT.format(text=t.strip()), LABEL_WORDS[int(y)], "sentiment")
            for t, y in zip(texts, labels)]


def translation_examples(pairs: Iterable[tuple[str, str]]) -> list[Instruction]:
    """cmn-eng (English, Chinese) pairs -> the Chinese sentence as the answer."""
    return [Instruction(TRANSLATION_PROMPT.format(text=en.strip()), zh.strip(), "translation")
            for en, zh in pairs]


def glossary_examples(root: str | Path | None = None) -> list[Instruction]:
    """The course glossary (chapters/*/glossary.csv under ``root``; by default the chapters installed with
    the package, so it works anywhere, Colab included) -> definitions."""
    from course_utils.resources import chapters_folder

    paths = (Path(root).glob("chapters/*/glossary.csv") if root is not None
             else chapters_folder().glob("*/glossary.csv"))
    out = []
    for path in sorted(paths):
        with path.open(encoding="utf-8", newline="") as f:
            out += [Instruction(DEFINITION_PROMPT.format(text=r["term"]), r["definition"].strip(), "definition")
                    for r in csv.DictReader(f) if r.get("term") and r.get("definition")]
    return out


def is_heldout(prompt: str, fraction: float = 0.1) -> bool:
    """Whether a prompt belongs to the held-out split: a fixed hash of its text, not a random draw."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    h = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")
    return h / 2 ** 64 < fraction


def split_heldout(examples: Sequence[Instruction], fraction: float = 0.1) -> tuple[list[Instruction], list[Instruction]]:
    """(train, held-out), decided per prompt by :func:`is_heldout`: no prompt is in both."""
    train = [e for e in examples if not is_heldout(e.prompt, fraction)]
    heldout = [e for e in examples if is_heldout(e.prompt, fraction)]
    return train, heldout


def chat_prompt(tokenizer, prompt: str, system: str = SYSTEM) -> str:
    """The chat template applied to a system and a user message, ending where the assistant speaks."""
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def chat_example(tokenizer, prompt: str, answer: str, system: str = SYSTEM) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, labels), both (T,): the whole chat; labels are the answer's tokens and the
    end-of-turn token that closes it, -100 everywhere else (system, prompt, template, final newline)."""
    if not answer or not answer.strip():
        raise ValueError("the answer is empty: there is nothing to learn (every example needs an answer)")
    if not prompt.strip():
        raise ValueError("the prompt is empty")
    head = chat_prompt(tokenizer, prompt, system)
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": prompt},
            {"role": "assistant", "content": answer}]
    full = tokenizer.apply_chat_template(msgs, tokenize=False)
    end = tokenizer.eos_token or "<|im_end|>"
    target = head + answer + end
    if not full.startswith(target):
        raise ValueError("the chat template does not render the answer right after the prompt "
                         f"and before {end!r}; chat_example cannot locate the answer tokens")
    head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    if full_ids[:len(target_ids)] != target_ids or target_ids[:len(head_ids)] != head_ids:
        raise ValueError("the tokens of the prompt change when the answer follows it (a merge across "
                         "the boundary); the answer-only mask would be wrong")
    labels = [IGNORE] * len(full_ids)
    labels[len(head_ids):len(target_ids)] = target_ids[len(head_ids):]
    return torch.tensor(full_ids), torch.tensor(labels)


def collate(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (input_ids, labels) pairs into (batch, T) tensors; padding gets label -100.

    With right padding a causal model needs no attention mask: real tokens never see later pads."""
    if not pairs:
        raise ValueError("an empty batch")
    t = max(len(ids) for ids, _ in pairs)
    ids = torch.full((len(pairs), t), pad_id, dtype=torch.long)
    labels = torch.full((len(pairs), t), IGNORE, dtype=torch.long)
    for i, (x, y) in enumerate(pairs):
        if x.shape != y.shape:
            raise ValueError(f"example {i}: input_ids {tuple(x.shape)} and labels {tuple(y.shape)} differ")
        ids[i, :len(x)], labels[i, :len(y)] = x, y
    return ids, labels


def sequence_logps(model, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(batch,): the sum over answer tokens (labels != -100) of log p(token | everything before it)."""
    if input_ids.shape != labels.shape or input_ids.dim() != 2:
        raise ValueError(f"input_ids {tuple(input_ids.shape)} and labels {tuple(labels.shape)} must be "
                         "the same (batch, T) shape")
    target = labels[:, 1:]                      # position t predicts token t + 1
    keep = target != IGNORE
    if not bool(keep.any(dim=1).all()):
        raise ValueError("a row has no answer token (all labels -100): its log-probability is undefined")
    out = model(input_ids)
    logits = getattr(out, "logits", out)[:, :-1]
    rows, cols = keep.nonzero(as_tuple=True)    # log-softmax only where there is an answer token
    logp = F.log_softmax(logits[rows, cols].float(), dim=-1).gather(-1, target[rows, cols, None])[:, 0]
    return torch.zeros(input_ids.size(0), device=logp.device).index_add(0, rows, logp)


def answer_loss(model, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per label token (the SFT loss; with labels = input_ids it is the loss on everything)."""
    out = model(input_ids)
    logits = getattr(out, "logits", out)
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=IGNORE)


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """Mean over the batch of -log sigmoid(beta * ((pc - rc) - (pr - rr))) (Rafailov et al. 2023, eq. 7)."""
    xs = (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) != 1 or xs[0].dim() != 1 or xs[0].numel() == 0:
        raise ValueError("dpo_loss needs four non-empty (batch,) tensors of the same shape; got "
                         + ", ".join(str(tuple(x.shape)) for x in xs))
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    pc, pr, rc, rr = xs
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


REJECTED_KINDS = ("wrong label", "verbose")


def preference_pairs(examples: Sequence[Instruction], pattern: Sequence[str] = REJECTED_KINDS,
                     balance: bool = False) -> list[tuple[str, str, str, str]]:
    """(prompt, chosen, rejected, kind) from sentiment examples: chosen is the correct one-word label;
    the rejected answers follow ``pattern`` in turn: 'wrong label' (the other label, a content error)
    or 'verbose' (an off-format sentence naming the correct label, a style error).

    With ``balance`` the wrong-label pairs alternate between the two correct labels (examples of each
    label are taken in order; pairing stops when the label needed next runs out), so that preferring
    one label whatever the review cannot win them."""
    unknown = sorted(set(pattern) - set(REJECTED_KINDS))
    if not pattern or unknown:
        raise ValueError(f"pattern must be a non-empty sequence of {REJECTED_KINDS}, got {tuple(pattern)}")
    sentiment = [x for x in examples if x.task == "sentiment"]
    if balance:
        sentiment = _balanced_order(sentiment, pattern)
    out = []
    for e, kind in zip(sentiment, itertools.cycle(pattern)):
        wrong = LABEL_WORDS[1 - LABEL_WORDS.index(e.answer)]
        out.append((e.prompt, e.answer, wrong if kind == "wrong label" else
                    f"The sentiment of this review is {e.answer}.", kind))
    return out


def _balanced_order(examples: list[Instruction], pattern: Sequence[str]) -> list[Instruction]:
    """``examples`` reordered so that the ones falling on 'wrong label' slots of ``pattern``
    alternate positive / negative; 'verbose' slots take the label with more examples left."""
    queues = {w: deque(e for e in examples if e.answer == w) for w in LABEL_WORDS}
    order, n_wrong = [], 0
    for kind in itertools.cycle(pattern):
        if kind == "wrong label":
            queue = queues[LABEL_WORDS[(n_wrong + 1) % 2]]      # positive first
            n_wrong += 1
        else:
            queue = max(queues.values(), key=len)
        if not queue:
            return order
        order.append(queue.popleft())
    return order


@torch.no_grad()
def generate_answers(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 8,
                     system: str = SYSTEM, batch_size: int = 16) -> list[str]:
    """Greedy answers of a course :class:`~course_utils.models.llama.Llama` to chat prompts (left-padded batches)."""
    end = tokenizer.convert_tokens_to_ids(tokenizer.eos_token or "<|im_end|>")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end
    answers = []
    for s in range(0, len(prompts), batch_size):
        rows = [tokenizer(chat_prompt(tokenizer, p, system), add_special_tokens=False)["input_ids"]
                for p in prompts[s:s + batch_size]]
        t = max(map(len, rows))
        ids = torch.tensor([[pad] * (t - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (t - len(r)) + [1] * len(r) for r in rows])
        out = model.generate(ids, max_new_tokens, attention_mask=mask, eos_token_id=end)
        answers += [tokenizer.decode(o[t:], skip_special_tokens=True).strip() for o in out.tolist()]
    return answers


_ONE_WORD = re.compile(r"^(positive|negative)$")


def follows_format(answer: str) -> bool:
    """Whether a sentiment answer is exactly one of the label words (lower case, nothing else)."""
    return bool(_ONE_WORD.match(answer.strip()))


def sst2_instructions(n_eval: int, seed: int = 0) -> tuple[list[Instruction], list[Instruction]]:
    """(training pool, held-out evaluation set) of SST-2 sentiment instructions: the train split
    divided by prompt hash (:func:`split_heldout`), both shuffled with ``seed``; held-out sentences
    have at least 6 words, and ``n_eval`` of them are kept."""
    import random

    from course_utils.data import load_sst2

    texts, labels = load_sst2("train")
    train, held = split_heldout(sentiment_examples(texts, labels), fraction=0.1)
    rng = random.Random(seed)
    rng.shuffle(train)
    held = [e for e in held if len(input_text(e.prompt).split()) >= 6]
    rng.shuffle(held)
    return train, held[:n_eval]


def lora_targets(n_layer: int, top: int) -> str:
    """peft ``target_modules`` regex for the course's Llama: the four linear layers (qkv, proj,
    gate_up, down) of the model's top ``top`` blocks."""
    if not 0 < top <= n_layer:
        raise ValueError(f"top must be 1..{n_layer} blocks, not {top}")
    layers = "|".join(str(i) for i in range(n_layer - top, n_layer))
    return rf"blocks\.({layers})\.(attn\.qkv|attn\.proj|mlp\.gate_up|mlp\.down)"


def add_lora(model, rank: int = 8, top: int = 8):
    """Freeze the course's Llama and add LoRA (rank ``rank``, alpha = 2 x rank, no dropout) to the
    four linear layers of its top ``top`` blocks (:func:`lora_targets`); returns peft's model."""
    from peft import LoraConfig, get_peft_model

    for p in model.parameters():
        p.requires_grad_(False)
    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                            target_modules=lora_targets(model.config.n_layer, top)))
