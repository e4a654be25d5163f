import pytest
import torch

from course_utils import runtime


def test_profile_env_wins(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    monkeypatch.setenv("CI", "true")
    assert runtime.get_profile() == "gpu"


def test_ci_env_means_ci(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setenv("CI", "true")
    assert runtime.get_profile() == "ci"


def test_auto_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.get_profile() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_profile() == "gpu"


def test_bad_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "tpu")
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        runtime.get_profile()


def test_gpu_profile_without_cuda_says_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="GPU"):
        runtime.get_device("gpu")
    assert runtime.get_device("ci").type == "cpu"


def test_pick(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert runtime.pick(ci=1, cpu=2, gpu=3) == 2
    assert runtime.pick(1, 2, 3, profile="gpu") == 3


def test_seed_everything_repeats():
    runtime.seed_everything(123)
    a = torch.randn(5)
    runtime.seed_everything(123)
    assert torch.equal(a, torch.randn(5))


def test_banner_prints_and_returns(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    rec = runtime.banner(seed=1)
    out = capsys.readouterr().out
    assert rec["profile"] == "ci" and "profile: ci" in out
    assert rec["torch"] == torch.__version__ and torch.__version__ in out


@pytest.mark.parametrize("native", [False, True])
def test_records_say_whether_the_processor_has_bf16_instructions(capsys, monkeypatch, native):
    """Result files and banners record bf16 support: the same CPU model name can come with or
    without it (the course's machines differ), and it decides which precision trains faster."""
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert runtime.environment_record()["bf16_instructions"] is native
    runtime.banner(seed=None)
    out = capsys.readouterr().out
    assert f"bf16 instructions: {'yes' if native else 'no'}" in out and "bf16_instructions" not in out


def test_glue_returns_the_value_and_needs_no_myst_nb(monkeypatch):
    """Notebooks glue values into the book's text; on Colab (no myst_nb) the call must not fail."""
    import sys

    from course_utils.runtime import glue

    monkeypatch.setitem(sys.modules, "myst_nb", None)   # importing it now raises ImportError
    assert glue("some_name", "0.23") == "0.23"
