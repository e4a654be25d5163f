"""Quantization by hand (chapter 6): the Q4_1 blocks of a GGUF file (llama.cpp) decoded in PyTorch,
and weight-only int8 with one scale per output channel for the course's :class:`~course_utils.models.llama.Llama`.

Q4_1 stores a tensor in blocks of 32 values, 20 bytes each: a float16 scale ``d``, a float16
minimum ``m``, then 16 bytes holding 32 unsigned 4-bit numbers ``q`` (the low nibbles of the 16 bytes
are values 0-15, the high nibbles values 16-31, as in gguf's own code); value = d * q + m.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Q4_1_BLOCK = 32          # values per block
Q4_1_BYTES = 20          # bytes per block: 2 (d) + 2 (m) + 16 (32 nibbles)


def dequantize_q4_1(raw: np.ndarray | torch.Tensor) -> torch.Tensor:
    """float32 values of Q4_1 bytes ``raw`` (uint8, ``(..., n_blocks * 20)``) -> ``(..., n_blocks * 32)``."""
    raw = torch.from_numpy(np.array(raw)) if isinstance(raw, np.ndarray) else torch.as_tensor(raw)
    if raw.dtype != torch.uint8 or raw.size(-1) % Q4_1_BYTES:
        raise ValueError(f"Q4_1 data are uint8 rows of 20-byte blocks, got {raw.dtype} with last "
                         f"dimension {raw.size(-1)}")
    lead = raw.shape[:-1]
    blocks = raw.reshape(-1, Q4_1_BYTES)
    d = blocks[:, 0:2].contiguous().view(torch.float16).float()        # (n, 1)
    m = blocks[:, 2:4].contiguous().view(torch.float16).float()
    qs = blocks[:, 4:]
    q = torch.cat([qs & 0x0F, qs >> 4], dim=1).float()                 # low nibbles first
    return (d * q + m).reshape(*lead, -1)


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output channel (row): ``w ~ q * scale`` with scale = max|row| / 127."""
    scale = w.detach().float().abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
    q = torch.round(w.detach().float() / scale).clamp(-127, 127).to(torch.int8)
    return q, scale


class Int8Linear(nn.Module):
    """A bias-free Linear whose weight is stored as int8 + one scale per output channel (weight-only
    quantization: the activations stay floating point).

    Two ways to multiply. With ``kernel=True`` (the default) on a CPU, PyTorch's int8 weight-only
    kernel ``torch._weight_int8pack_mm`` (the one torchao and torchchat call on a CPU) multiplies with the
    int8 weights directly and scales each output: a product reads 1 byte per weight. It takes
    bfloat16 activations, so the input is rounded to bfloat16 for the product and the output
    returned in the input's dtype. Otherwise (``kernel=False``, a GPU, or a PyTorch without the
    kernel) the weight is decoded to the input's dtype at every call and multiplied as before:
    memory at rest shrinks, the bytes each product moves do not.
    """

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, kernel: bool = True) -> None:
        super().__init__()
        self.register_buffer("q", q)
        self.register_buffer("scale", scale)
        self.kernel = kernel

    @classmethod
    def from_linear(cls, linear: nn.Linear, kernel: bool = True) -> "Int8Linear":
        """Quantize an ``nn.Linear`` without bias."""
        if linear.bias is not None:
            raise ValueError("Int8Linear has no bias")
        return cls(*quantize_int8(linear.weight), kernel=kernel)

    def weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The dequantized weight (out, in)."""
        return self.q.to(dtype) * self.scale.to(dtype)

    def uses_kernel(self, x: torch.Tensor) -> bool:
        """Whether a call on ``x`` multiplies with the int8 weights directly."""
        return self.kernel and x.device.type == "cpu" and hasattr(torch, "_weight_int8pack_mm")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.uses_kernel(x):
            rows = x.reshape(-1, x.size(-1)).to(torch.bfloat16)
            y = torch._weight_int8pack_mm(rows, self.q, self.scale[:, 0].to(torch.bfloat16))
            return y.to(x.dtype).reshape(*x.shape[:-1], -1)
        return F.linear(x, self.weight(x.dtype))


class Int8Embedding(nn.Module):
    """An embedding table stored as int8 rows with one scale each (the tied output layer reads the same rows)."""

    def __init__(self, head: Int8Linear) -> None:
        super().__init__()
        self.table = head

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table.q[idx].to(self.table.scale.dtype) * self.table.scale[idx]   # the model's dtype


def quantize_llama_int8(model: nn.Module, kernel: bool = True) -> nn.Module:
    """Replace every matrix of a :class:`Llama` (in place) by int8 with per-row scales; norms stay as
    they are. ``kernel``: multiply with the int8 weights directly on a CPU (see :class:`Int8Linear`)."""
    for blk in model.blocks:
        blk.attn.qkv = Int8Linear.from_linear(blk.attn.qkv, kernel)
        blk.attn.proj = Int8Linear.from_linear(blk.attn.proj, kernel)
        blk.mlp.gate_up = Int8Linear.from_linear(blk.mlp.gate_up, kernel)
        blk.mlp.down = Int8Linear.from_linear(blk.mlp.down, kernel)
    head = Int8Linear.from_linear(model.head, kernel)          # tied: quantize the shared matrix once
    model.head = head
    model.tok_emb = Int8Embedding(head) if model.config.tie_weights else \
        Int8Embedding(Int8Linear(*quantize_int8(model.tok_emb.weight)))
    return model


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the model's weights: parameters and quantized buffers, each storage once (not the rotary tables)."""
    seen, total = set(), 0
    tensors = list(model.parameters()) + [b for n, b in model.named_buffers() if n.rsplit(".", 1)[-1] in ("q", "scale")]
    for t in tensors:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


@torch.no_grad()
def perplexity(model: nn.Module, ids: torch.Tensor, window: int = 512) -> float:
    """exp(mean next-token cross-entropy) of ``ids`` (1-d) in consecutive windows of ``window`` tokens."""
    losses, count = 0.0, 0
    for start in range(0, ids.numel() - 1, window):
        chunk = ids[start:start + window + 1][None]
        if chunk.size(1) < 2:
            break
        logits = model(chunk[:, :-1])
        losses += F.cross_entropy(logits[0].float(), chunk[0, 1:], reduction="sum").item()
        count += chunk.size(1) - 1
    return float(np.exp(losses / count))


def precisions(model: nn.Module) -> dict[str, nn.Module]:
    """The same weights of a float32 :class:`Llama` in four forms (``model`` itself is the first, the
    others are copies): float32, bfloat16, int8 per channel multiplied by PyTorch's int8 kernel, and
    int8 per channel decoded to float32 at every call."""
    if next(model.parameters()).dtype != torch.float32:
        raise ValueError("give the float32 model (load_smollm2() without dtype); the others are made from it")
    return {"float32": model,
            "bfloat16": copy.deepcopy(model).to(torch.bfloat16),
            "int8": quantize_llama_int8(copy.deepcopy(model)),
            "int8, decoded at each call": quantize_llama_int8(copy.deepcopy(model), kernel=False)}
