"""Models used across the course. Each model lives in its own small module of this package."""
from course_utils.models.gpt import GPT, GPTConfig  # noqa: F401  (chapter 3)
from course_utils.models.minilm import MINILM_PACKAGE, load_minilm, minilm_path

__all__ = ["MINILM_PACKAGE", "load_minilm", "minilm_path"]
