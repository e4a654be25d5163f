"""Masked language modelling (BERT, Devlin et al. 2019): choose 15 % of the tokens; of those, 80 %
become [MASK], 10 % a random token, 10 % stay unchanged; the loss is taken on chosen positions only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100   # label value that F.cross_entropy skips (its default ignore_index)


def mask_tokens(input_ids: torch.Tensor, mask_token_id: int, vocab_size: int, *,
                special_tokens_mask: torch.Tensor | None = None, mlm_probability: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (corrupted inputs, labels): labels hold the original id at chosen positions, -100 elsewhere.

    ``special_tokens_mask`` (True for [CLS], [SEP], padding ...) marks positions never chosen.
    The attention mask is NOT touched: the model must see the [MASK] token to predict behind it.
    """
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if input_ids.dtype != torch.long:
        raise TypeError("input_ids must be a LongTensor of token ids")
    def rand(*shape):
        return torch.rand(*shape, generator=generator, device=input_ids.device)

    chosen = rand(input_ids.shape) < mlm_probability
    if special_tokens_mask is not None:
        chosen &= ~special_tokens_mask.bool()
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    draw = rand(input_ids.shape)                 # one draw decides mask / random / keep
    to_mask = chosen & (draw < 0.8)
    to_random = chosen & (draw >= 0.8) & (draw < 0.9)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device)
    inputs = input_ids.clone()
    inputs[to_mask] = mask_token_id
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the chosen positions only (labels == -100 are skipped)."""
    if not (labels != IGNORE).any():
        raise ValueError("no position is selected (all labels are -100): the MLM loss is undefined; "
                         "use longer inputs or a higher mlm_probability")
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1),
                           ignore_index=IGNORE)
