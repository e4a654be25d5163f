"""course_utils.align: the answer-only mask, sequence log-probabilities, the DPO loss and the held-out split."""
from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from course_utils import align
from course_utils.models.llama import Llama, LlamaConfig


@pytest.fixture(scope="module")
def tok(smollm2_tokenizer):
    return smollm2_tokenizer   # conftest.py: SmolLM2's tokenizer, or a skip if it is not installed


@pytest.mark.parametrize("answer", ["positive", "negative", "我们试试吧。", "A model's weights, adapted.",
                                    " leading space", "two\nlines"])
def test_mask_covers_exactly_the_answer_tokens(tok, answer):
    prompt = align.SENTIMENT_PROMPT.format(text="a gorgeous , witty film")
    ids, labels = align.chat_example(tok, prompt, answer)
    assert ids.shape == labels.shape and ids.dim() == 1
    kept = labels != align.IGNORE
    assert torch.equal(labels[kept], ids[kept])                       # labels are the tokens themselves
    pos = kept.nonzero()[:, 0]
    assert torch.equal(pos, torch.arange(pos[0], pos[-1] + 1))        # one contiguous run
    assert tok.decode(ids[kept]) == answer + tok.eos_token            # the answer and its end-of-turn
    assert tok.decode(ids[:pos[0]]) == align.chat_prompt(tok, prompt)  # everything before: the prompt
    assert len(ids) - 1 - int(pos[-1]) == 1                           # only the final newline after it


def test_empty_answer_or_prompt_fails_clearly(tok):
    with pytest.raises(ValueError, match="answer is empty"):
        align.chat_example(tok, "Say something.", "")
    with pytest.raises(ValueError, match="answer is empty"):
        align.chat_example(tok, "Say something.", "   ")
    with pytest.raises(ValueError, match="prompt is empty"):
        align.chat_example(tok, " ", "yes")


def test_dpo_loss_equals_a_hand_computation():
    pc, pr = torch.tensor([-1.0, -4.0]), torch.tensor([-3.0, -2.0])
    rc, rr = torch.tensor([-2.0, -3.0]), torch.tensor([-2.5, -2.5])
    beta = 0.5
    # row 0: (pc - rc) - (pr - rr) = (1) - (-0.5) = 1.5; row 1: (-1) - (0.5) = -1.5
    hand = (-math.log(1 / (1 + math.exp(-0.75))) - math.log(1 / (1 + math.exp(0.75)))) / 2
    assert align.dpo_loss(pc, pr, rc, rr, beta=beta).item() == pytest.approx(hand, abs=1e-6)
    # policy == reference: every margin is 0, the loss is log 2 whatever beta is
    assert align.dpo_loss(pc, pr, pc, pr, beta=3.0).item() == pytest.approx(math.log(2), abs=1e-6)
    # the gradient pushes chosen up and rejected down
    x = pc.clone().requires_grad_(True)
    y = pr.clone().requires_grad_(True)
    align.dpo_loss(x, y, rc, rr).backward()
    assert (x.grad < 0).all() and (y.grad > 0).all()


@pytest.mark.skipif(importlib.util.find_spec("trl") is None, reason="trl is not installed")
def test_dpo_loss_equals_trl():  # pragma: no cover - only where trl is installed
    from trl import DPOTrainer

    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (torch.randn(6, generator=g) * 5 for _ in range(4))
    trainer = DPOTrainer.__new__(DPOTrainer)
    trainer.beta, trainer.loss_type, trainer.label_smoothing = 0.1, "sigmoid", 0.0
    losses = trainer.dpo_loss(pc, pr, rc, rr)[0]
    assert align.dpo_loss(pc, pr, rc, rr, beta=0.1).item() == pytest.approx(losses.mean().item(), abs=1e-6)


def test_dpo_loss_rejects_bad_input():
    a = torch.zeros(3)
    with pytest.raises(ValueError, match="same shape"):
        align.dpo_loss(a, torch.zeros(4), a, a)
    with pytest.raises(ValueError, match="same shape"):
        align.dpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="non-empty"):
        align.dpo_loss(*(torch.zeros(0) for _ in range(4)))
    with pytest.raises(ValueError, match="beta"):
        align.dpo_loss(a, a, a, a, beta=0.0)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Llama(LlamaConfig(vocab_size=50, context=32, n_layer=2, n_head=4, n_kv_head=2, d_model=16, d_ff=24)).eval()


def test_sequence_logps_equals_a_loop_over_answer_tokens(tiny):
    ids = torch.randint(0, 50, (3, 9), generator=torch.Generator().manual_seed(1))
    labels = torch.full_like(ids, align.IGNORE)
    labels[0, 5:8] = ids[0, 5:8]
    labels[1, 1:9] = ids[1, 1:9]
    labels[2, 8] = ids[2, 8]
    with torch.no_grad():
        got = align.sequence_logps(tiny, ids, labels)
        logp = torch.log_softmax(tiny(ids), dim=-1)
    want = [sum(logp[b, t - 1, ids[b, t]].item() for t in range(9) if labels[b, t] != align.IGNORE)
            for b in range(3)]
    assert got.shape == (3,)
    assert got.tolist() == pytest.approx(want, abs=1e-5)
    # the mean answer-token loss is minus their sum over their count
    n = (labels[:, 1:] != align.IGNORE).sum()
    with torch.no_grad():
        assert align.answer_loss(tiny, ids, labels).item() == pytest.approx(-sum(want) / n.item(), abs=1e-5)


def test_sequence_logps_rejects_bad_input(tiny):
    ids = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="same"):
        align.sequence_logps(tiny, ids, torch.zeros(2, 4, dtype=torch.long))
    labels = torch.full_like(ids, align.IGNORE)
    labels[0, 3] = 1
    with pytest.raises(ValueError, match="no answer token"):
        align.sequence_logps(tiny, ids, labels)


def test_collate_pads_right_with_ignored_labels():
    a = (torch.tensor([5, 6, 7]), torch.tensor([-100, 6, 7]))
    b = (torch.tensor([8]), torch.tensor([8]))
    ids, labels = align.collate([a, b], pad_id=2)
    assert ids.tolist() == [[5, 6, 7], [8, 2, 2]]
    assert labels.tolist() == [[-100, 6, 7], [8, -100, -100]]
    with pytest.raises(ValueError, match="differ"):
        align.collate([(torch.tensor([1, 2]), torch.tensor([1]))], pad_id=0)


def test_split_is_deterministic_and_never_overlaps():
    texts = [f"review number {i % 700}" for i in range(1000)]          # 300 duplicated prompts
    examples = align.sentiment_examples(texts, [i % 2 for i in range(1000)])
    train, held = align.split_heldout(examples, fraction=0.2)
    assert len(train) + len(held) == len(examples)
    assert not {e.prompt for e in train} & {e.prompt for e in held}     # duplicates stay on one side
    assert 0.1 < len({e.prompt for e in held}) / 700 < 0.3
    assert align.split_heldout(examples, fraction=0.2) == (train, held)
    assert align.split_heldout(examples[::-1], fraction=0.2)[1] == held[::-1]   # order does not matter
    with pytest.raises(ValueError, match="between 0 and 1"):
        align.split_heldout(examples, fraction=1.0)


def test_instruction_sources_and_preference_pairs():
    ex = align.sentiment_examples(["good", "bad"], [1, 0])
    assert [e.answer for e in ex] == ["positive", "negative"] and ex[0].prompt.endswith("good")
    assert align.input_text(ex[1].prompt) == "bad" and align.input_text("no paragraphs") == "no paragraphs"
    with pytest.raises(ValueError, match="labels"):
        align.sentiment_examples(["x"], [0, 1])
    tr = align.translation_examples([("Hi.", "你好。")])
    assert tr[0].answer == "你好。" and tr[0].task == "translation"
    gl = align.glossary_examples()
    assert gl and all(e.answer and e.task == "definition" for e in gl)
    pairs = align.preference_pairs(ex + tr)
    assert pairs[0][1:] == ("positive", "negative", "wrong label")
    assert pairs[1][1] == "negative" and not align.follows_format(pairs[1][2]) and pairs[1][3] == "verbose"
    assert len(pairs) == 2


def test_balanced_preference_pairs_alternate_the_correct_label():
    labels = [1] * 9 + [0] * 3                       # skewed like SST-2's positive majority, more so
    ex = align.sentiment_examples([f"review {i}" for i in range(12)], labels)
    plain = align.preference_pairs(ex, pattern=("wrong label",))
    assert [c for _, c, _, _ in plain[:4]] == ["positive"] * 4          # the data's skew passes through
    pairs = align.preference_pairs(ex, pattern=("wrong label", "wrong label", "verbose"), balance=True)
    wrong = [c for _, c, _, k in pairs if k == "wrong label"]
    assert wrong == ["positive", "negative"] * 3 + ["positive"]     # stops when 'negative' runs out
    assert [k for *_, k in pairs[:3]] == ["wrong label", "wrong label", "verbose"]
    assert len({p for p, *_ in pairs}) == len(pairs)  # no example used twice
    assert all(r != c for _, c, r, _ in pairs)
    with pytest.raises(ValueError, match="pattern"):
        align.preference_pairs(ex, pattern=("wrong answer",))


def test_follows_format():
    assert align.follows_format("positive") and align.follows_format(" negative\n")
    assert not align.follows_format("Positive.") and not align.follows_format("The review is positive")


def test_lora_targets_name_the_top_blocks_linear_layers():
    import re

    model = Llama(LlamaConfig(vocab_size=32, context=16, n_layer=4, n_head=2, n_kv_head=1, d_model=16, d_ff=32))
    pattern = re.compile(align.lora_targets(4, 2))
    hit = sorted(n for n, _ in model.named_modules() if pattern.fullmatch(n))
    assert hit == [f"blocks.{b}.{m}" for b in (2, 3) for m in ("attn.proj", "attn.qkv", "mlp.down", "mlp.gate_up")]
    with pytest.raises(ValueError, match="top must be 1..4"):
        align.lora_targets(4, 5)
