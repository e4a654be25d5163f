"""Lab 7 public tests: the answer-only loss mask, sequence log-probabilities and the DPO loss.

The conventions are those of :mod:`course_utils.align` (chapter 4, notebooks 6 and 7): label -100
on every token that is not part of the answer (prompt and padding), position t of the logits
predicts token t + 1, and the DPO loss of Rafailov et al. (2023, eq. 7). The reference functions
below are written from those definitions, and the instructor notebook checks that they agree with
``align``. Everything runs on small tensors and a tiny randomly initialised course Llama (no download).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.grading import Lab, expect_close, expect_equal
from course_utils.models.llama import Llama, LlamaConfig

IGNORE = -100

lab = Lab("lab7_alignment", "The answer-only loss mask and the DPO loss", {
    "q1": "input ids and answer-only labels of one example",
    "q2": "the masked next-token loss",
    "q3": "sequence log-probability of the answer",
    "q4": "the DPO loss",
    "q5": "preference accuracy of a policy against a reference",
})

# Toy vocabulary of the tiny models: prompts use tokens 0-15, chosen answers 16-23, rejected 24-31.
VOCAB = 32
PROMPT_TOKENS, CHOSEN_TOKENS, REJECTED_TOKENS = range(0, 16), range(16, 24), range(24, 32)


def tiny_llama(seed: int) -> Llama:
    """A randomly initialised course Llama small enough for a test (32 tokens, 2 blocks, width 16)."""
    torch.manual_seed(seed)
    return Llama(LlamaConfig(vocab_size=VOCAB, context=32, n_layer=2, n_head=2, n_kv_head=1,
                             d_model=16, d_ff=32)).eval()


def toy_pairs(n: int, seed: int) -> list[tuple[list[int], list[int], list[int]]]:
    """``n`` preference pairs (prompt_ids, chosen_ids, rejected_ids) of token-id lists: a prompt of 3-6
    tokens, a chosen answer of 1-4 tokens from 16-23 and a rejected one of 1-4 tokens from 24-31."""
    g = torch.Generator().manual_seed(seed)

    def draw(tokens: range, lo: int, hi: int) -> list[int]:
        k = int(torch.randint(lo, hi + 1, (1,), generator=g))
        return [tokens[int(i)] for i in torch.randint(len(tokens), (k,), generator=g)]

    return [(draw(PROMPT_TOKENS, 3, 6), draw(CHOSEN_TOKENS, 1, 4), draw(REJECTED_TOKENS, 1, 4)) for _ in range(n)]


class Favouring(nn.Module):
    """A policy built from a reference model: the reference's logits plus ``strength`` on the tokens
    ``favoured`` and minus ``strength`` on ``disfavoured`` (so it prefers answers made of the first)."""

    def __init__(self, reference: nn.Module, favoured: range, disfavoured: range, strength: float = 2.0):
        super().__init__()
        self.reference = reference
        bias = torch.zeros(VOCAB)
        bias[list(favoured)], bias[list(disfavoured)] = strength, -strength
        self.register_buffer("bias", bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.reference(input_ids) + self.bias


def ref_labels(prompt_ids, answer_ids, pad_to=None, pad_id=0) -> tuple[list[int], list[int]]:
    """Reference for q1, as lists: the prompt then the answer (then padding up to ``pad_to``)."""
    prompt, answer = [int(t) for t in prompt_ids], [int(t) for t in answer_ids]
    ids, labels = prompt + answer, [IGNORE] * len(prompt) + answer
    n = 0 if pad_to is None else pad_to - len(ids)
    return ids + [pad_id] * n, labels + [IGNORE] * n


def ref_masked_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Reference for q2: PyTorch's cross-entropy with ignore_index=-100 on the shifted positions."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).double(), labels[:, 1:].flatten(), ignore_index=IGNORE)


def ref_sequence_logp(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Reference for q3: one row at a time, one answer token at a time."""
    logp = torch.log_softmax(logits.double(), dim=-1)
    out = []
    for b in range(labels.size(0)):
        out.append(sum(logp[b, t - 1, labels[b, t]] for t in range(1, labels.size(1)) if labels[b, t] != IGNORE))
    return torch.stack([torch.as_tensor(x, dtype=torch.float64) for x in out])


def ref_dpo(pc, pr, rc, rr, beta: float) -> torch.Tensor:
    """Reference for q4: mean of -log sigmoid(beta * ((pc - rc) - (pr - rr)))."""
    pc, pr, rc, rr = (torch.as_tensor(x, dtype=torch.float64) for x in (pc, pr, rc, rr))
    return (-F.logsigmoid(beta * ((pc - rc) - (pr - rr)))).mean()


@torch.no_grad()
def ref_pair_logps(model: nn.Module, pairs) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) summed answer log-probabilities of ``pairs`` under ``model``, one row at a time."""
    out = ([], [])
    for prompt, chosen, rejected in pairs:
        for side, answer in zip(out, (chosen, rejected)):
            ids, labels = (torch.tensor([x]) for x in ref_labels(prompt, answer))
            side.append(ref_sequence_logp(model(ids), labels)[0])
    return torch.stack(out[0]), torch.stack(out[1])


def _logits_and_labels(seed: int, batch: int, t: int, vocab: int, answer_from: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits (batch, t, vocab) and token labels; row b is -100 before position answer_from[b]."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, t, vocab, generator=g) * 2
    labels = torch.randint(vocab, (batch, t), generator=g)
    for b, start in enumerate(answer_from):
        labels[b, :start] = IGNORE
    return logits, labels


@lab.test("q1")
def prompt_then_answer(answer_labels):
    prompt, answer = [5, 6, 7], [8, 9]
    want_ids, want_labels = ref_labels(prompt, answer)
    ids, labels = answer_labels(list(prompt), list(answer))
    expect_equal(torch.as_tensor(ids).tolist(), want_ids, f"input_ids of answer_labels({prompt}, {answer})")
    expect_equal(torch.as_tensor(labels).tolist(), want_labels, f"labels of answer_labels({prompt}, {answer})")


@lab.test("q2")
def one_row_answer_at_the_end(masked_lm_loss):
    logits, labels = _logits_and_labels(0, 1, 6, 10, [3])
    expect_close(masked_lm_loss(logits, labels), ref_masked_loss(logits, labels),
                 f"masked_lm_loss(logits (1, 6, 10), labels {labels.tolist()}) vs F.cross_entropy(ignore_index=-100)",
                 rtol=1e-4)


@lab.test("q3")
def two_rows(sequence_logp):
    logits, labels = _logits_and_labels(1, 2, 6, 10, [3, 4])
    expect_close(sequence_logp(logits, labels), ref_sequence_logp(logits, labels),
                 f"sequence_logp(logits (2, 6, 10), labels {labels.tolist()})", rtol=1e-4)


@lab.test("q4")
def random_log_probabilities(dpo_loss):
    g = torch.Generator().manual_seed(2)
    pc, pr, rc, rr = (torch.randn(4, generator=g) * 5 - 10 for _ in range(4))
    expect_close(dpo_loss(pc, pr, rc, rr, 0.1), ref_dpo(pc, pr, rc, rr, 0.1),
                 "dpo_loss(pc, pr, rc, rr, beta=0.1) on a batch of 4 pairs", rtol=1e-4)


@lab.test("q5")
def policy_equal_to_reference(preference_accuracy):
    model, pairs = tiny_llama(0), toy_pairs(4, seed=0)
    acc, loss = preference_accuracy(model, model, pairs)
    # every margin is exactly 0: each pair is a tie (1/2), and the loss is -log sigmoid(0) = log 2
    expect_close(acc, 0.5, "accuracy when the policy is the reference (every pair a tie)")
    expect_close(loss, -F.logsigmoid(torch.zeros(())), "DPO loss when the policy is the reference", rtol=1e-4)


@lab.test("q5")
def policy_favouring_every_chosen_answer(preference_accuracy):
    reference, pairs = tiny_llama(1), toy_pairs(4, seed=1)
    policy = Favouring(reference, CHOSEN_TOKENS, REJECTED_TOKENS)
    acc, _ = preference_accuracy(policy, reference, pairs)
    expect_close(acc, 1.0, "accuracy of a policy that raises every chosen token and lowers every rejected one")
