"""Prompting without training (chapter 5, notebook 5): in-context learning on SST-2 scored by label
log-probabilities, and answers from retrieved passages.

In-context learning (Brown et al. 2020) puts ``k`` labelled examples, the *demonstrations*, in front
of the sentence to classify; the model's weights do not change. The label is read from the model's
next-token distribution, not from free text: after ``... Sentiment:`` the prediction is whichever of
the label words `` negative`` / `` positive`` (one token each in SmolLM2's vocabulary, with their
leading space) has the higher log-probability. Nothing is parsed, so every sentence gets a label.

The demonstrations and the instruction are the same for every sentence, so their keys and values
are computed once (a KV cache) and each batch of sentences only runs its own tokens.
"""
from __future__ import annotations

import random
import re
from typing import Sequence

import torch
import torch.nn.functional as F

INSTRUCTION = "Classify the sentiment of each movie review as positive or negative.\n\n"
TEMPLATE = "Review: {text}\nSentiment:"
LABEL_WORDS = (" negative", " positive")      # SST-2 label 0, 1; what follows "Sentiment:"


def format_example(text: str, label: int | None = None) -> str:
    """One review in the prompt format; with a label, the completed demonstration and a blank line."""
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("an empty review: there is nothing to classify")
    if label is None:
        return TEMPLATE.format(text=text)
    if label not in (0, 1):
        raise ValueError(f"a label is 0 (negative) or 1 (positive), not {label!r}")
    return TEMPLATE.format(text=text) + LABEL_WORDS[label] + "\n\n"


def balanced_demonstrations(texts: Sequence[str], labels: Sequence[int], k: int, seed: int = 0,
                            max_words: int = 30) -> list[tuple[str, int]]:
    """``k`` (text, label) demonstrations, k/2 of each label, drawn with ``seed`` from the pool
    (sentences of at most ``max_words`` words, so that 16 of them fit a short prompt), in a
    shuffled order. ``k`` must be even; ``k = 0`` gives none (zero-shot)."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if k < 0 or k % 2:
        raise ValueError(f"k must be an even number >= 0 (half of each label), not {k}")
    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    for label in (0, 1):
        pool = [i for i, (t, y) in enumerate(zip(texts, labels))
                if int(y) == label and 0 < len(str(t).split()) <= max_words]
        if len(pool) < k // 2:
            raise ValueError(f"only {len(pool)} sentences of label {label} with <= {max_words} words; need {k // 2}")
        out += [(texts[i], label) for i in rng.sample(pool, k // 2)]
    rng.shuffle(out)
    return out


def prompt_prefix(demonstrations: Sequence[tuple[str, int]], instruction: str = INSTRUCTION) -> str:
    """The part of the prompt every sentence shares: the instruction, then the demonstrations."""
    return instruction + "".join(format_example(t, y) for t, y in demonstrations)


def icl_prompt(demonstrations: Sequence[tuple[str, int]], text: str, instruction: str = INSTRUCTION) -> str:
    """The whole prompt for one sentence: the shared prefix, then the review and ``Sentiment:``."""
    return prompt_prefix(demonstrations, instruction) + format_example(text)


def label_token_ids(tokenizer, words: Sequence[str] = LABEL_WORDS) -> list[int]:
    """The token id of each label word; an error if a word is not exactly one token."""
    ids = []
    for w in words:
        toks = tokenizer(w, add_special_tokens=False)["input_ids"]
        if len(toks) != 1:
            raise ValueError(f"label word {w!r} is {len(toks)} tokens {toks}; scoring one next token needs one")
        ids.append(toks[0])
    return ids


@torch.no_grad()
def label_logprobs(model, tokenizer, prefix: str, texts: Sequence[str], batch_size: int = 16,
                   words: Sequence[str] = LABEL_WORDS) -> torch.Tensor:
    """(N, len(words)): log p(word | prefix + review + "Sentiment:") of each label word, for each text.

    The prefix is run once into a KV cache of the course's Llama; then each batch of reviews runs
    only its own tokens (left-padded, with an attention mask) after it, one forward per batch."""
    from course_utils.models.llama import KVCache

    if not texts:
        raise ValueError("no texts to score")
    word_ids = torch.tensor(label_token_ids(tokenizer, words))
    p = next(model.parameters())
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    head = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    rows = [tokenizer(format_example(t), add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))   # similar lengths together: less padding
    rows = [rows[i] for i in order]
    if head:   # the shared prefix, once: its keys and values are copied into every batch's cache
        prefix_cache = KVCache(model.config, 1, len(head), p.dtype, p.device)
        model(torch.tensor([head], device=p.device), cache=prefix_cache, last_only=True)
    out = []
    for s in range(0, len(rows), batch_size):
        batch = rows[s:s + batch_size]
        b, t = len(batch), max(map(len, batch))
        ids = torch.tensor([[pad] * (t - len(r)) + r for r in batch], device=p.device)
        keep = torch.tensor([[0] * (t - len(r)) + [1] * len(r) for r in batch], device=p.device)
        cache = KVCache(model.config, b, len(head) + t, p.dtype, p.device)
        if head:
            cache.k[:, :, :, :len(head)] = prefix_cache.k
            cache.v[:, :, :, :len(head)] = prefix_cache.v
            cache.length = len(head)
            keep = torch.cat([torch.ones(b, len(head), dtype=keep.dtype, device=p.device), keep], dim=1)
        logits = model(ids, keep, cache, last_only=True)[:, -1].float()
        out.append(F.log_softmax(logits, dim=-1)[:, word_ids.to(logits.device)].cpu())
    scores = torch.cat(out)
    return scores[torch.argsort(torch.tensor(order))]   # back in the order of texts


@torch.no_grad()
def label_logprobs_uncached(model, tokenizer, prefix: str, text: str,
                            words: Sequence[str] = LABEL_WORDS) -> torch.Tensor:
    """The same as one row of :func:`label_logprobs`, by one plain forward of the whole prompt (a check)."""
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    ids = ids + tokenizer(format_example(text), add_special_tokens=False)["input_ids"]
    p = next(model.parameters())
    logits = model(torch.tensor([ids], device=p.device), last_only=True)[0, -1].float()
    return F.log_softmax(logits, dim=-1)[torch.tensor(label_token_ids(tokenizer, words))].cpu()


def predict(logps: torch.Tensor) -> torch.Tensor:
    """The label with the higher log-probability (index into the label words)."""
    return logps.argmax(dim=-1)


# --------------------------------------------------------------------------- answers from retrieval
RAG_SYSTEM = "You are a helpful assistant. Answer in one or two short sentences."
RAG_TEMPLATE = ("Answer the question using the sources below.\n\n{sources}\n\nQuestion: {question}")


def rag_prompt(question: str, passages: Sequence[str] = ()) -> str:
    """The user message: with passages, numbered sources and then the question; without, the question."""
    question = question.strip()
    if not question:
        raise ValueError("an empty question")
    if not passages:
        return question
    sources = "\n\n".join(f"[{i + 1}] {' '.join(p.split())}" for i, p in enumerate(passages))
    return RAG_TEMPLATE.format(sources=sources, question=question)


def contains_answer(answer: str, keywords: str) -> bool:
    """Is an answer right? ``keywords`` lists alternatives separated by "|"; the answer is right when it
    contains one of them (case-insensitive, as a whole word or phrase, spaces and hyphens alike)."""
    alternatives = [k.strip() for k in keywords.split("|") if k.strip()]
    if not alternatives:
        raise ValueError("no expected keyword given")
    norm = lambda s: " ".join(re.sub(r"[-_]", " ", s.lower()).split())   # noqa: E731 - a two-use helper
    text = f" {norm(re.sub(r'[^0-9A-Za-z_-]+', ' ', answer))} "
    return any(f" {norm(re.sub(r'[^0-9A-Za-z_-]+', ' ', k))} " in text for k in alternatives)
