"""Models used across the course. Each model lives in its own small module of this package."""
from course_utils.models.gpt import GPT, GPTConfig  # noqa: F401  (chapter 3)
from course_utils.models.llama import Llama, LlamaConfig, load_smollm2  # noqa: F401  (chapter 3, SmolLM2)
from course_utils.models.minilm import MINILM_PACKAGE, load_minilm, minilm_path
from course_utils.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer  # noqa: F401  (chapter 5)

__all__ = ["MINILM_PACKAGE", "load_minilm", "minilm_path", "load_smollm2", "count_parameters"]


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) number of parameters of any torch module (a tied weight counted once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
