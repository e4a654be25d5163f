"""Checks behind three errata of the source articles (book/errata.md, E15-E17): each runs the claim."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course_utils import finetune as ft
from course_utils import results
from course_utils.decoding import beam_search, generate, sequence_logprob


def test_adapters_add_parameters_until_merged():
    """Seed 001 says adapter methods fine-tune "without increasing the number of parameters": a
    LoRA adapter adds r * (d_in + d_out) numbers per adapted matrix; only merging removes them."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    _, model = ft.load_classifier()
    base = sum(p.numel() for p in model.parameters())
    lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"]))
    added = sum(p.numel() for p in lora.parameters()) - base
    assert added == 6 * 2 * 8 * (384 + 384) > 0               # 6 layers x 2 matrices x r (d_in + d_out)
    merged = lora.merge_and_unload()
    assert sum(p.numel() for p in merged.parameters()) == base


def test_standard_fine_tuning_updates_every_parameter():
    """Seed 003 says fine-tuning "usually updates only part of the parameters": the standard recipe
    (the course's measured full fine-tuning) trains all of them; PEFT is the exception."""
    full, lora = ft.measured_row("cpu", "full"), ft.measured_row("cpu", "lora")
    assert full is not None and lora is not None, "results/finetune_sst2_cpu.json lacks its rows"
    assert full["trainable_params"] == full["total_params"]
    assert lora["trainable_params"] < 0.02 * lora["total_params"]
    assert results.load("finetune_sst2", "cpu")["profile"] == "cpu"


class TwoStepTable(nn.Module):
    """A 'decoder' with made-up next-token probabilities and no long-range anything: two steps.
    Step 1: A 0.6, B 0.4. After A: four tokens at 0.25 each. After B: C 0.9."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, idx):                       # vocab: 0 start, 1 A, 2 B, 3 C, 4 D, 5 E, 6 F
        table = {0: {1: 0.6, 2: 0.4}, 1: {3: 0.25, 4: 0.25, 5: 0.25, 6: 0.25}, 2: {3: 0.9, 4: 0.1}}
        p = torch.full((idx.size(0), idx.size(1), 7), 1e-9)
        for b in range(idx.size(0)):
            for t in range(idx.size(1)):              # the next token depends on the last one only
                for tok, q in table.get(int(idx[b, t]), {3: 1.0}).items():
                    p[b, t, tok] = q
        return torch.log(p / p.sum(-1, keepdim=True))


def test_greedy_fails_on_two_tokens_without_any_long_range_dependency():
    """Seed 002 blames greedy search's failures on long-range dependencies. The real reason: the
    locally best token can lead to a worse sequence, already over two tokens (0.6 x 0.25 < 0.4 x 0.9)."""
    model, prompt = TwoStepTable(), torch.tensor([[0]])
    greedy = generate(model, prompt, 2, greedy=True, use_cache=False)
    beam, score = beam_search(model, prompt, 2, beam_width=2)
    assert greedy.tolist() == [[0, 1, 3]] and beam.tolist() == [[0, 2, 3]]
    assert sequence_logprob(model, greedy, 1) == pytest.approx(math.log(0.6 * 0.25), abs=1e-4)
    assert score == pytest.approx(math.log(0.4 * 0.9), abs=1e-4)
    assert score > sequence_logprob(model, greedy, 1)
