"""Chapter 6's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

from course_utils.exercises import exercise_set
from course_utils.grading import expect_close, expect_equal

# --------------------------------------------------------------------------- 6.1 counting compute
ch06_01 = exercise_set("ch06_01", "Counting compute", {
    "q1": "training FLOPs per token of a GPT, attention and output layer included",
    "q2": "days of training from 6ND, the number of devices, their peak and the MFU",
})


@ch06_01.test("q1")
def flops_per_token_matches_the_package(flops_per_token_gpt):
    from course_utils import energy

    for shape in [(2, 64, 64, 65), (12, 768, 1024, 50257)]:
        expect_close(flops_per_token_gpt(*shape), energy.gpt_flops_per_token(*shape, attention="full"),
                     f"flops_per_token_gpt{shape} (layers, width, context, vocabulary)", rtol=1e-9)


@ch06_01.test("q2")
def days_of_a_small_run(training_days):
    flops = 6 * 1e9 * 20e9                      # 6ND: a 1B-parameter model on 20B tokens
    seconds = flops / (8 * 312e12 * 0.4)        # 8 accelerators at 312 TFLOP/s, 40 % of it used
    expect_close(training_days(1e9, 20e9, 8, 312e12, 0.4), seconds / 86400,
                 "training_days(1e9, 20e9, 8, 312e12, 0.4)", rtol=1e-6)


# --------------------------------------------------------------------------- 6.2 measuring our runs
ch06_02 = exercise_set("ch06_02", "Measuring our runs", {
    "q1": "energy from power samples (trapezoid rule)",
    "q2": "joules between two RAPL readings, with a wrap-around",
    "q3": "grams of CO2e from joules, PUE and grid intensity",
})


@ch06_02.test("q1")
def trapezoid_of_a_ramp(energy_trapezoid):
    times, watts = [0.0, 1.0, 2.0, 4.0], [10.0, 30.0, 30.0, 10.0]
    expected = (10 + 30) / 2 * 1 + (30 + 30) / 2 * 1 + (30 + 10) / 2 * 2   # one trapezoid per interval
    expect_close(energy_trapezoid(times, watts), expected, f"energy_trapezoid({times}, {watts}) in joules")


@ch06_02.test("q2")
def the_lessons_wrap(rapl_joules):
    expect_close(rapl_joules(262000000000, 356671150, 262143328850), 500.0,
                 "rapl_joules(262000000000, 356671150, 262143328850) (the lesson's wrapped counter)")
    expect_close(rapl_joules(1_000_000, 3_500_000, 262143328850), 2.5, "rapl_joules(1e6, 3.5e6, ...) without a wrap")


@ch06_02.test("q3")
def grams_match_the_package(grams_co2e):
    from course_utils import energy

    joules, pue, grid = 7.2e6, 1.2, 0.385
    expected = energy.co2e_kg(joules / 3.6e6 * pue, grid) * 1000
    expect_close(grams_co2e(joules, pue, grid), expected, f"grams_co2e({joules}, {pue}, {grid})")


# --------------------------------------------------------------------------- 6.3 estimating from the outside
ch06_03 = exercise_set("ch06_03", "Estimating from the outside", {
    "q1": "an outsider's estimate in tonnes CO2e from hours, rated power, PUE and grid",
    "q2": "the grid intensity implied by a published figure",
})


@ch06_03.test("q1")
def outsider_matches_the_package(outsider_t_co2e):
    from course_utils import energy

    args = (1_000_000, 400, 1.1, 0.385)
    expected = energy.co2e_kg(energy.energy_kwh(1_000_000, 400, 1.1), 0.385) / 1000
    expect_close(outsider_t_co2e(*args), expected, f"outsider_t_co2e{args} in tonnes")


@ch06_03.test("q2")
def implied_grid_round_trip(implied_grid):
    from course_utils import energy

    hours, watts, pue, grid = 2_000_000, 350, 1.1, 0.3
    tonnes = energy.co2e_kg(energy.energy_kwh(hours, watts, pue), grid) / 1000
    expect_close(implied_grid(tonnes, hours, watts, pue), grid,
                 f"implied_grid({tonnes:g}, {hours}, {watts}, {pue}) in kg/kWh")


# --------------------------------------------------------------------------- 6.4 levers
ch06_04 = exercise_set("ch06_04", "The levers", {
    "q1": "the saving of several levers combined",
    "q2": "days until inference FLOPs equal the training FLOPs",
})


@ch06_04.test("q1")
def levers_multiply(combined_saving):
    ratios = [0.5, 0.8]          # one lever halves the emissions, another keeps 80 % of what is left
    expect_close(combined_saving(ratios), 1 - 0.5 * 0.8, f"combined_saving({ratios})")


@ch06_04.test("q2")
def break_even_of_the_lesson(break_even_days):
    from course_utils import energy

    n, d, users, per_day = 175e9, 300e9, 1e7, 1000
    expected = energy.training_flops(n, d) / (2 * n) / (users * per_day)
    expect_close(break_even_days(n, d, users, per_day), expected, f"break_even_days({n:g}, {d:g}, {users:g}, {per_day})")


# --------------------------------------------------------------------------- 6.5 quantization
ch06_05 = exercise_set("ch06_05", "Quantization", {
    "q1": "bytes of a tensor stored in Q4_1",
    "q2": "decoding one Q4_1 block by hand",
})


@ch06_05.test("q1")
def q4_1_sizes(q4_1_nbytes):
    from course_utils import quant

    expect_equal(q4_1_nbytes(32), quant.Q4_1_BYTES, "q4_1_nbytes(32): one block")
    expect_equal(q4_1_nbytes(576 * 1536), 576 * 1536 // quant.Q4_1_BLOCK * quant.Q4_1_BYTES, "q4_1_nbytes(576 * 1536)")


@ch06_05.test("q1")
def q4_1_refuses_partial_blocks(q4_1_nbytes):
    try:
        q4_1_nbytes(33)
    except ValueError:
        return
    raise AssertionError("q4_1_nbytes(33) should raise ValueError: Q4_1 stores whole blocks of 32 weights")


@ch06_05.test("q2")
def block_matches_the_package(dequantize_q4_1_block):
    import numpy as np

    from course_utils import quant

    rng = np.random.default_rng(0)
    scale_min = np.array([0.0123, -0.0871], dtype=np.float16).view(np.uint8)
    block = np.concatenate([scale_min, rng.integers(0, 256, 16, dtype=np.uint8)])
    expect_close(dequantize_q4_1_block(block), quant.dequantize_q4_1(block).numpy(),
                 "dequantize_q4_1_block(a block with d = 0.0123, m = -0.0871 and random nibbles)", rtol=1e-6, atol=1e-7)
