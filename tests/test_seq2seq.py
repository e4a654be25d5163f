import itertools

import pytest
import torch

from course_utils import translate as T
from course_utils.models import Seq2SeqConfig, Seq2SeqTransformer
from course_utils.models.seq2seq import beam_translate, greedy_translate, translation_loss, translation_logprob
from course_utils.train import TrainConfig, train


def tiny(seed: int = 0, **kw) -> Seq2SeqTransformer:
    torch.manual_seed(seed)
    cfg = dict(src_vocab=12, tgt_vocab=9, d_model=32, n_heads=4, n_encoder_layers=1, n_decoder_layers=2,
               d_ff=64, dropout=0.0, max_len=12)
    cfg.update(kw)
    return Seq2SeqTransformer(Seq2SeqConfig(**cfg)).eval()


def test_tokenizers_and_vocab():
    assert T.tokenize_en("I don't know, Tom!") == ["i", "don't", "know", ",", "tom", "!"]
    assert T.tokenize_zh("我 不知道。") == ["我", "不", "知", "道", "。"]
    v = T.Vocab.build([["a", "b", "a"], ["c"]], min_freq=1)
    assert v.tokens[:5] == ["<pad>", "<bos>", "<eos>", "<unk>", "a"]
    ids = v.encode(["a", "zzz", "c"], bos_eos=True)
    assert ids[0] == T.BOS and ids[-1] == T.EOS and ids[2] == T.UNK
    assert v.decode(ids) == ["a", "<unk>", "c"]
    assert "b" not in T.Vocab.build([["a", "b", "a"]], min_freq=2).tokens
    with pytest.raises(ValueError, match="start with"):
        T.Vocab(["x"])


def test_split_keeps_each_source_in_one_split():
    pairs = [(f"s{i % 30}", f"t{i}") for i in range(90)]   # every source has 3 translations
    train_, val, test = T.split_pairs(pairs, n_val=5, n_test=5, seed=1)
    srcs = [{en for en, _ in part} for part in (train_, val, test)]
    assert len(srcs[1]) == len(srcs[2]) == 5 and not (srcs[0] & srcs[2]) and not (srcs[1] & srcs[2])
    assert len(train_) + len(val) + len(test) == 90
    assert T.split_pairs(pairs, 5, 5, seed=1) == (train_, val, test)
    with pytest.raises(ValueError, match="no training data"):
        T.split_pairs(pairs, 20, 10)


def test_batch_is_teacher_forcing_shift():
    tr = T.Translator.from_pairs([("hi tom .", "嗨汤姆。"), ("hi .", "嗨。")], min_freq=1)
    src, tgt_in, tgt_out = tr.batch([("hi tom .", "嗨汤姆。"), ("hi .", "嗨。")])
    assert src.shape == (2, 4) and src[1, -1] == T.PAD and src[0, -1] == T.EOS
    assert tgt_in[0, 0] == T.BOS and torch.equal(tgt_in[:, 1:], tgt_out[:, :-1])
    assert tr.detokenize(tgt_out[0].tolist()) == "嗨汤姆。"
    get = tr.batches([("hi .", "嗨。")] * 3, batch_size=4, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(get(7), get(7)))


def test_forward_shapes_and_cross_attention():
    model = tiny()
    src = torch.tensor([[4, 5, 6, 2], [7, 2, 0, 0]])
    tgt = torch.tensor([[1, 4, 5], [1, 6, 0]])
    logits = model(src, tgt)
    assert logits.shape == (2, 3, 9)
    assert len(model.cross_attention) == 2 and model.cross_attention[0].shape == (2, 4, 3, 4)
    w = model.cross_attention[-1]
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 3))
    assert torch.all(w[1, :, :, 2:] == 0)          # padded source positions get no attention


def test_padding_and_causality():
    model = tiny()
    alone = model(torch.tensor([[7, 8, 2]]), torch.tensor([[1, 4, 5]]))
    padded = model(torch.tensor([[7, 8, 2, 0, 0], [4, 4, 4, 4, 2]]), torch.tensor([[1, 4, 5], [1, 5, 5]]))
    torch.testing.assert_close(alone[0], padded[0], atol=1e-5, rtol=1e-4)
    changed = model(torch.tensor([[7, 8, 2]]), torch.tensor([[1, 4, 8]]))
    torch.testing.assert_close(alone[0, :2], changed[0, :2])          # the future does not leak back
    assert not torch.allclose(alone[0, 2], changed[0, 2])
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 13, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        Seq2SeqConfig(src_vocab=10, tgt_vocab=10, d_model=30, n_heads=4)


def test_beam_one_is_greedy_and_wide_beam_is_exact():
    model = tiny(seed=3, tgt_vocab=5, max_len=5)   # real target tokens 3 and 4 only
    src = torch.tensor([[4, 9, 2]])
    assert beam_translate(model, src, beam_size=1) == greedy_translate(model, src)[0]
    # exhaustive search over every output of <= 3 tokens (max_len 5 = bos + 3 tokens + eos)
    candidates = [list(c) for n in range(4) for c in itertools.product([3, 4], repeat=n)]
    best = max(candidates, key=lambda c: translation_logprob(model, src, c))
    assert beam_translate(model, src, beam_size=50, length_penalty=0.0) == best
    with pytest.raises(ValueError, match="one sentence"):
        beam_translate(model, torch.tensor([[4, 2], [5, 2]]))


@pytest.fixture
def one_thread():
    """Tiny models train ~10x faster on one thread when the CPU is shared (CI runners)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_training_learns_a_tiny_translation(one_thread):
    pairs = [("one", "一"), ("two", "二"), ("three", "三"), ("one two", "一二"), ("two three", "二三"),
             ("three one", "三一")]
    tr = T.Translator.from_pairs(pairs, min_freq=1, max_len=6)
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(len(tr.src), len(tr.tgt), d_model=32, n_heads=2,
                                             n_encoder_layers=1, n_decoder_layers=1, d_ff=64,
                                             dropout=0.0, max_len=8))
    hist = train(model, tr.batches(pairs, 12), TrainConfig(max_steps=80, lr=5e-3, progress=False),
                 loss_fn=translation_loss)
    assert hist.train_loss[-1] < 0.1 * hist.train_loss[0]
    sources = [en for en, _ in pairs]
    assert tr.translate(model, sources) == [zh for _, zh in pairs]
    assert tr.translate(model, sources, beam_size=3) == [zh for _, zh in pairs]


def test_bleu_zh():
    refs = ["我们今天去公园。", "他喜欢喝茶。"]
    assert T.bleu_zh(refs, refs).score == pytest.approx(100.0)
    partial = T.bleu_zh(["我们今天去学校。", "他喜欢喝咖啡。"], refs)
    assert 0 < partial.score < 100
    # tokenize="zh" splits Chinese into characters: a spaced-out reference scores the same
    assert T.bleu_zh(["我 们 今 天 去 公 园 。", "他 喜 欢 喝 茶 。"], refs).score == pytest.approx(100.0)
    assert "tok:zh" in T.bleu_signature()
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        T.bleu_zh(["a"], refs)
