"""English -> Chinese translation data: word-level English and character-level Chinese
vocabularies, a leak-free train/val/test split of the Tatoeba pairs, padded batches for
:func:`course_utils.train.train`, translation with a seq2seq model, and BLEU via sacreBLEU."""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
_EN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize_en(text: str) -> list[str]:
    """Lower-cased words, contractions ("don't") and single punctuation marks."""
    return _EN.findall(text.lower())


def tokenize_zh(text: str) -> list[str]:
    """Chinese as characters (no word segmentation needed); spaces are dropped."""
    return [ch for ch in text if not ch.isspace()]


@dataclass
class Vocab:
    """Token <-> id table with the specials pad=0, bos=1, eos=2, unk=3 first."""

    tokens: list[str] = field(default_factory=lambda: list(SPECIALS))

    def __post_init__(self) -> None:
        if tuple(self.tokens[:4]) != SPECIALS:
            raise ValueError(f"a Vocab must start with {SPECIALS}")
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """Most frequent tokens first (ties alphabetical), keeping those seen ``min_freq`` times."""
        counts = Counter(t for toks in texts for t in toks)
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls(list(SPECIALS) + kept[:max_size])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str], bos_eos: bool = False) -> list[int]:
        """Ids of the tokens (unknown ones -> unk), optionally wrapped in bos ... eos."""
        ids = [self.index.get(t, UNK) for t in tokens]
        return [BOS, *ids, EOS] if bos_eos else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of the ids, skipping pad/bos/eos."""
        return [self.tokens[i] for i in ids if i not in (PAD, BOS, EOS)]


def split_pairs(pairs: Sequence[tuple[str, str]], n_val: int, n_test: int,
                seed: int = 0) -> tuple[list, list, list]:
    """Shuffle and split into train / val / test so that one English sentence (with all of its
    Chinese translations) lands in exactly one split: no test source was seen in training."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for en, zh in pairs:
        groups.setdefault(en, []).append((en, zh))
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    if n_val + n_test >= len(keys):
        raise ValueError(f"n_val + n_test = {n_val + n_test} leaves no training data "
                         f"({len(keys)} distinct source sentences)")
    test_k, val_k, train_k = keys[:n_test], keys[n_test:n_test + n_val], keys[n_test + n_val:]
    take = lambda ks: [p for k in ks for p in groups[k]]  # noqa: E731 - a one-line helper
    return take(train_k), take(val_k), take(test_k)


@dataclass
class Translator:
    """The vocabularies of one translation direction (English -> Chinese) and how to use them."""

    src: Vocab
    tgt: Vocab
    max_len: int = 48

    @classmethod
    def from_pairs(cls, train: Sequence[tuple[str, str]], min_freq: int = 2, max_len: int = 48) -> "Translator":
        """Vocabularies from the training pairs only (rare English words become <unk>)."""
        return cls(Vocab.build((tokenize_en(en) for en, _ in train), min_freq),
                   Vocab.build((tokenize_zh(zh) for _, zh in train), min_freq), max_len)

    def encode_pair(self, en: str, zh: str) -> tuple[list[int], list[int]]:
        """(source ids with eos, target ids with bos ... eos), truncated to max_len."""
        src = self.src.encode(tokenize_en(en))[: self.max_len - 1] + [EOS]
        tgt = self.tgt.encode(tokenize_zh(zh), bos_eos=True)[: self.max_len + 1]
        return src, tgt

    def source_batch(self, sentences: Sequence[str]) -> torch.Tensor:
        """Padded source ids (batch, len) for English sentences."""
        rows = [self.encode_pair(s, "")[0] for s in sentences]
        return pad_rows(rows)

    def batch(self, pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(src, tgt_in, tgt_out): padded ids; tgt_out is tgt_in shifted left by one (teacher forcing)."""
        enc = [self.encode_pair(en, zh) for en, zh in pairs]
        src = pad_rows([s for s, _ in enc])
        tgt = pad_rows([t for _, t in enc])
        return src, tgt[:, :-1], tgt[:, 1:]

    def batches(self, pairs: Sequence[tuple[str, str]], batch_size: int,
                seed: int = 0) -> Callable[[int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``get_batch(step)`` for :func:`course_utils.train.train`: random pairs, same for a step."""
        if not pairs:
            raise ValueError("no pairs to draw batches from")

        def get(step: int):
            rng = random.Random(seed * 1_000_003 + step)
            return self.batch([pairs[rng.randrange(len(pairs))] for _ in range(batch_size)])
        return get

    def detokenize(self, ids: Iterable[int]) -> str:
        """Chinese text of target ids (characters joined without spaces)."""
        return "".join(self.tgt.decode(ids))

    def translate(self, model, sentences: Sequence[str], beam_size: int = 1, batch_size: int = 64,
                  length_penalty: float = 1.0) -> list[str]:
        """Translate English sentences: greedy in batches (beam_size=1) or beam search one by one."""
        from course_utils.models.seq2seq import beam_translate, greedy_translate

        device = next(model.parameters()).device
        out: list[str] = []
        if beam_size == 1:
            for i in range(0, len(sentences), batch_size):
                src = self.source_batch(sentences[i:i + batch_size]).to(device)
                out += [self.detokenize(ids) for ids in greedy_translate(model, src, self.max_len + 1)]
        else:
            for s in sentences:
                ids = beam_translate(model, self.source_batch([s]).to(device), beam_size, self.max_len + 1,
                                  length_penalty)
                out.append(self.detokenize(ids))
        return out


def pad_rows(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """A (len(rows), longest) LongTensor, right-padded with PAD."""
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


def bleu_zh(hypotheses: Sequence[str], references: Sequence[str]):
    """Corpus BLEU of Chinese hypotheses against one reference each (sacreBLEU, tokenize="zh").

    Returns sacreBLEU's score object: ``.score`` (0-100), ``.precisions``, ``.bp``, and its
    signature via :func:`bleu_signature`.
    """
    import sacrebleu

    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"need one hypothesis per reference (got {len(hypotheses)} and {len(references)})")
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="zh")


def bleu_signature() -> str:
    """sacreBLEU's signature string for the settings of :func:`bleu_zh` (report it with scores)."""
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize="zh")
    metric.corpus_score(["一"], [["一"]])   # the signature records the number of references
    return str(metric.get_signature())


# Sizes per profile, shared by chapter 5's notebook and benchmarks/translate_cmn.py.
RECIPES: dict[str, dict] = {
    "ci": dict(d_model=64, n_heads=4, layers=1, d_ff=256, dropout=0.1, batch=32, lr=3e-3, warmup=20,
               steps=150, max_words=5, n_test=200, n_beam=30, threads=1),
    "cpu": dict(d_model=128, n_heads=4, layers=2, d_ff=512, dropout=0.1, batch=64, lr=2e-3, warmup=100,
                steps=1000, max_words=None, n_test=1000, n_beam=300, threads=1),
    "gpu": dict(d_model=256, n_heads=8, layers=3, d_ff=1024, dropout=0.1, batch=128, lr=1e-3, warmup=200,
                steps=8000, max_words=None, n_test=1000, n_beam=1000, threads=None),
}
