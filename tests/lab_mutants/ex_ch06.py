"""Instructor side of chapter 6's exercises (course_utils.exercises.ch06): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
    "ch06_01": '''
def flops_per_token_gpt(n_layers, d_model, context_len, vocab_size):
    weights = n_layers * 12 * d_model * d_model
    attention = 4 * n_layers * context_len * d_model
    forward = 2 * weights + 2 * d_model * vocab_size + attention
    return 3 * forward

def training_days(n_params, n_tokens, n_devices, peak_flop_per_s, mfu):
    flops = 6 * n_params * n_tokens
    seconds = flops / (n_devices * peak_flop_per_s * mfu)
    return seconds / 86400
''',
    "ch06_02": '''
def energy_trapezoid(times_s, watts):
    total = 0.0
    for i in range(1, len(times_s)):
        total += (watts[i - 1] + watts[i]) / 2 * (times_s[i] - times_s[i - 1])
    return total

def rapl_joules(start_uj, end_uj, max_range_uj):
    delta = end_uj - start_uj
    if delta < 0:
        delta += max_range_uj
    return delta / 1e6

def grams_co2e(joules, pue, grid_kg_per_kwh):
    kwh = joules / 3.6e6
    return kwh * pue * grid_kg_per_kwh * 1000
''',
    "ch06_03": '''
def outsider_t_co2e(accelerator_hours, tdp_w, pue, grid_kg_per_kwh):
    kwh = accelerator_hours * tdp_w / 1000 * pue
    return kwh * grid_kg_per_kwh / 1000

def implied_grid(co2e_t, accelerator_hours, power_w, pue):
    kwh = accelerator_hours * power_w / 1000 * pue
    return co2e_t * 1000 / kwh
''',
    "ch06_04": '''
import math

def combined_saving(ratios):
    remaining = math.prod(ratios)
    return 1 - remaining

def break_even_days(n_params, n_train_tokens, users, tokens_per_user_per_day):
    training = 6 * n_params * n_train_tokens
    per_day = 2 * n_params * users * tokens_per_user_per_day
    return training / per_day
''',
    "ch06_05": '''
import numpy as np

def q4_1_nbytes(n_weights):
    if n_weights % 32:
        raise ValueError(f"{n_weights} weights are not whole blocks of 32")
    return n_weights // 32 * 20

def dequantize_q4_1_block(block):
    block = np.asarray(block, dtype=np.uint8)
    d = block[0:2].view(np.float16).astype(np.float32)[0]
    m = block[2:4].view(np.float16).astype(np.float32)[0]
    q = np.concatenate([block[4:] & 0x0F, block[4:] >> 4]).astype(np.float32)
    return d * q + m
''',
}

HIDDEN = {
    "ch06_01": '''
@check.test("q1")
def gpt3_shape_long_context(flops_per_token_gpt):
    from course_utils import energy
    expect_close(flops_per_token_gpt(96, 12288, 2048, 50257), energy.gpt_flops_per_token(96, 12288, 2048, 50257),
                 "flops_per_token_gpt(96, 12288, 2048, 50257)", rtol=1e-9)
    expect_close(flops_per_token_gpt(1, 8, 1, 1), energy.gpt_flops_per_token(1, 8, 1, 1), "flops_per_token_gpt(1, 8, 1, 1)",
                 rtol=1e-9)

@check.test("q2")
def gpt3_on_v100s(training_days):
    seconds = 6 * 175e9 * 300e9 / (10_000 * 125e12 * 0.2)
    expect_close(training_days(175e9, 300e9, 10_000, 125e12, 0.2), seconds / 86400,
                 "training_days(175e9, 300e9, 10000, 125e12, 0.2)", rtol=1e-6)
''',
    "ch06_02": '''
@check.test("q1")
def constant_power_and_two_samples(energy_trapezoid):
    expect_close(energy_trapezoid([0.0, 0.5, 1.5, 3.0], [40.0] * 4), 120.0, "40 W for 3 s, uneven samples")
    expect_close(energy_trapezoid([10.0, 12.0], [0.0, 100.0]), 100.0, "a ramp from 0 to 100 W over 2 s")

@check.test("q2")
def wrap_to_zero(rapl_joules):
    expect_close(rapl_joules(999_000_000, 0, 1_000_000_000), 1.0, "a reading that wrapped exactly to 0")
    expect_close(rapl_joules(5, 5, 1_000_000_000), 0.0, "no energy used")

@check.test("q3")
def one_kwh(grams_co2e):
    expect_close(grams_co2e(3.6e6, 1.0, 0.057), 57.0, "grams_co2e(3.6e6 J, PUE 1.0, 0.057 kg/kWh)")
''',
    "ch06_03": '''
@check.test("q1")
def bloom_like(outsider_t_co2e):
    from course_utils import energy
    expected = energy.co2e_kg(energy.energy_kwh(1_082_990, 400, 1.2), 0.057) / 1000
    expect_close(outsider_t_co2e(1_082_990, 400, 1.2, 0.057), expected, "outsider_t_co2e(1082990, 400, 1.2, 0.057)")

@check.test("q2")
def llama2_factor(implied_grid):
    kwh = 1_000_000 * 400 / 1000 * 1.0
    expect_close(implied_grid(kwh * 0.4235 / 1000, 1_000_000, 400, 1.0), 0.4235, "implied_grid at PUE 1.0")
''',
    "ch06_04": '''
@check.test("q1")
def one_and_three_levers(combined_saving):
    expect_close(combined_saving([0.7]), 0.3, "combined_saving([0.7])")
    expect_close(combined_saving([0.5, 0.5, 0.5]), 0.875, "combined_saving([0.5, 0.5, 0.5])")

@check.test("q2")
def small_model(break_even_days):
    expect_close(break_even_days(1e9, 2e10, 1e3, 1e4), 6e9 * 2e10 / (2e9 * 1e3 * 1e4),
                 "break_even_days(1e9, 2e10, 1e3, 1e4)")
''',
    "ch06_05": '''
@check.test("q1")
def q4_1_smollm2_matrix(q4_1_nbytes):
    expect_equal(q4_1_nbytes(0), 0, "q4_1_nbytes(0)")
    expect_equal(q4_1_nbytes(64 * 9), 18 * 20, "q4_1_nbytes(576)")
    try:
        q4_1_nbytes(16)
    except ValueError:
        pass
    else:
        raise AssertionError("q4_1_nbytes(16) should raise ValueError")

@check.test("q2")
def block_from_the_extremes(dequantize_q4_1_block):
    import numpy as np
    from course_utils import quant
    head = np.array([0.5, 1.0], dtype=np.float16).view(np.uint8)
    block = np.concatenate([head, np.array([0x0F, 0xF0] + [0x21] * 14, dtype=np.uint8)])
    expect_close(dequantize_q4_1_block(block), quant.dequantize_q4_1(block).numpy(),
                 "dequantize_q4_1_block with bytes 0x0f, 0xf0, 0x21...", rtol=1e-6, atol=1e-7)
''',
}

MUTANTS = {
    "ch06_01": {
        "q1_causal_half": [("attention = 4 * n_layers", "attention = 2 * n_layers")],
        "q1_forward_only": [("return 3 * forward", "return forward")],
        "q2_no_mfu": [("(n_devices * peak_flop_per_s * mfu)", "(n_devices * peak_flop_per_s)")],
        "q2_hours": [("return seconds / 86400", "return seconds / 3600")],
    },
    "ch06_02": {
        "q1_left_rectangles": [("(watts[i - 1] + watts[i]) / 2", "watts[i - 1]")],
        "q2_no_wrap": [("        delta += max_range_uj\n", "        pass\n")],
        "q2_microjoules": [("return delta / 1e6", "return delta")],
        "q3_no_pue": [("return kwh * pue * grid_kg_per_kwh * 1000", "return kwh * grid_kg_per_kwh * 1000")],
    },
    "ch06_03": {
        "q1_kg_not_tonnes": [("return kwh * grid_kg_per_kwh / 1000", "return kwh * grid_kg_per_kwh")],
        "q2_pue_ignored": [("    kwh = accelerator_hours * power_w / 1000 * pue\n",
                            "    kwh = accelerator_hours * power_w / 1000\n")],
    },
    "ch06_04": {
        "q1_savings_added": [("return 1 - remaining", "return sum(1 - r for r in ratios)")],
        "q2_training_2nd": [("training = 6 * n_params", "training = 2 * n_params")],
    },
    "ch06_05": {
        "q1_float32_size": [("return n_weights // 32 * 20", "return n_weights * 4")],
        "q1_no_check": [("    if n_weights % 32:\n", "    if False:\n")],
        "q2_high_nibbles_first": [("np.concatenate([block[4:] & 0x0F, block[4:] >> 4])",
                                   "np.concatenate([block[4:] >> 4, block[4:] & 0x0F])")],
        "q2_no_minimum": [("return d * q + m", "return d * q")],
    },
}
