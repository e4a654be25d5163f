"""Character-level language-model data: a character tokenizer, nanoGPT's 90/10 split of
Tiny Shakespeare, and random (input, target) blocks that are a pure function of the step number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


class CharTokenizer:
    """Maps each distinct character of a text to an id (sorted, so the mapping is reproducible)."""

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to build its vocabulary from")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of the characters; unknown characters raise a KeyError that names them."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise KeyError(f"characters not in the vocabulary: {unknown[:10]!r}; build the "
                           "tokenizer from a text that contains them")
        return [self.stoi[c] for c in text]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """The text for a list (or 1-d tensor) of ids."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)


@dataclass
class CharData:
    """Encoded train/val tensors of one text plus its tokenizer."""

    tokenizer: CharTokenizer
    train: torch.Tensor
    val: torch.Tensor

    def batches(self, split: str, batch_size: int, block_size: int, seed: int = 0,
                device: torch.device | str = "cpu") -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
        """``get_batch(step)`` for course_utils.train: random blocks, the same for the same step."""
        data = {"train": self.train, "val": self.val}[split]
        if len(data) <= block_size + 1:
            raise ValueError(f"the {split} split has {len(data)} tokens, too few for block_size={block_size}")
        offset = {"train": 0, "val": 1_000_003}[split]
        arange = torch.arange(block_size + 1)

        def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            g = torch.Generator().manual_seed(seed * 10_000_019 + offset + step)
            starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=g)
            chunk = data[starts[:, None] + arange]
            return chunk[:, :-1].contiguous().to(device), chunk[:, 1:].contiguous().to(device)

        return get_batch


def char_data(text: str, val_fraction: float = 0.1) -> CharData:
    """Tokenize ``text`` by character and split it: the first 90 % train, the last 10 % val."""
    tok = CharTokenizer(text)
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    n = int(len(ids) * (1 - val_fraction))
    return CharData(tok, ids[:n], ids[n:])


def shakespeare_chars(val_fraction: float = 0.1) -> CharData:
    """Tiny Shakespeare at character level with nanoGPT's 90/10 split (65 characters)."""
    from course_utils.data import load_tinyshakespeare

    return char_data(load_tinyshakespeare(), val_fraction)
