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
