"""Byte-level byte-pair encoding (BPE), trained from scratch in plain Python for reading.

Start from the 256 byte values, then repeatedly merge the most frequent adjacent pair into a new
token. Text is first split into word-like chunks (as GPT-2 does) so merges never cross a chunk.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# GPT-2's pre-tokenizer written for the stdlib `re` (which lacks \p{L}): contractions, an optional
# space + letters, + digits, + other symbols (underscore included), then runs of white space.
PRETOKENIZE = re.compile(r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def pretokenize(text: str) -> list[str]:
    """Split text into the chunks BPE works inside (merges never cross a chunk boundary)."""
    return PRETOKENIZE.findall(text)


@dataclass
class Merge:
    """One training step: ``pair`` (two token ids) became token ``new_id``; it occurred ``count`` times."""

    pair: tuple[int, int]
    new_id: int
    count: int


def merge_pair(ids: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


@dataclass
class ByteBPE:
    """A byte-level BPE tokenizer: ``train`` it on a text, then ``encode`` / ``decode``."""

    merges: list[Merge] = field(default_factory=list)

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def token_bytes(self, token: int) -> bytes:
        """The bytes a token stands for."""
        if token < 256:
            return bytes([token])
        if token >= self.vocab_size:
            raise ValueError(f"token {token} is outside the vocabulary (size {self.vocab_size})")
        a, b = self.merges[token - 256].pair
        return self.token_bytes(a) + self.token_bytes(b)

    def token_str(self, token: int) -> str:
        """A readable form of a token (spaces shown as '·', invalid UTF-8 as escapes)."""
        return self.token_bytes(token).decode("utf-8", errors="backslashreplace").replace(" ", "·")

    def train(self, text: str, vocab_size: int) -> "ByteBPE":
        """Learn ``vocab_size - 256`` merges from ``text`` (replaces any earlier training)."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be >= 256 (the byte alphabet), got {vocab_size}")
        words = Counter(tuple(chunk.encode("utf-8")) for chunk in pretokenize(text))
        self.merges = []
        for new_id in range(256, vocab_size):
            pairs: Counter[tuple[int, int]] = Counter()
            for word, freq in words.items():
                for pair in zip(word, word[1:]):
                    pairs[pair] += freq
            if not pairs:
                break                                    # every chunk is a single token already
            pair, count = max(pairs.items(), key=lambda kv: kv[1])   # ties: first seen wins
            self.merges.append(Merge(pair, new_id, count))
            words = Counter({merge_pair(w, pair, new_id) if len(w) > 1 else w: f
                             for w, f in words.items()})
        self._ranks = {m.pair: m.new_id for m in self.merges}
        return self

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = tuple(chunk.encode("utf-8"))
        ranks = getattr(self, "_ranks", None) or {m.pair: m.new_id for m in self.merges}
        while len(ids) > 1:
            # apply the earliest-learned merge present, exactly as training did
            best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 30))
            if best not in ranks:
                break
            ids = merge_pair(ids, best, ranks[best])
        return list(ids)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        cache: dict[str, list[int]] = {}
        out: list[int] = []
        for chunk in pretokenize(text):
            if chunk not in cache:
                cache[chunk] = self._encode_chunk(chunk)
            out.extend(cache[chunk])
        return out

    def decode(self, ids: list[int]) -> str:
        """Text of token ids (bytes that are not valid UTF-8 become U+FFFD)."""
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", errors="replace")


def hf_byte_level_bpe(text: str, vocab_size: int):
    """The Hugging Face `tokenizers` byte-level BPE trained on the same text, for comparison."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer=trainer)
    return tok
