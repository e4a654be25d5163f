"""Lab 6 public tests: training compute (6ND), hardware hours, energy and carbon."""
from __future__ import annotations

from course_utils.grading import Lab, expect_close

lab = Lab("lab6_energy", "6ND FLOPs, energy and carbon from hardware hours", {
    "q1": "training FLOPs with the 6ND rule",
    "q2": "accelerator hours",
    "q3": "energy in kWh",
    "q4": "carbon in kg CO2e",
})


@lab.test("q1")
def small_model(training_flops):
    n, d = 10**6, 2 * 10**9
    # forward pass 2 FLOPs per parameter per token, backward pass twice that
    expect_close(training_flops(n, d), (2 + 4) * n * d, f"training_flops(n_params={n:.0e}, n_tokens={d:.0e})")


@lab.test("q2")
def one_gpu(accelerator_hours):
    flops, peak, mfu = 3.6e18, 1e15, 0.5
    seconds = flops / (peak * mfu)
    expect_close(accelerator_hours(flops, peak, mfu), seconds / 3600,
                 f"accelerator_hours(flops={flops:.1e}, peak={peak:.0e} FLOP/s, mfu={mfu})")


@lab.test("q3")
def four_hundred_watts(energy_kwh):
    hours, watts, pue = 100.0, 400.0, 1.0
    expect_close(energy_kwh(hours, watts, pue), hours * watts / 1000 * pue,
                 f"energy_kwh(hours={hours}, watts={watts}, pue={pue})")


@lab.test("q4")
def grid_intensity(co2_kg):
    kwh, grams = 1000.0, 400.0
    expect_close(co2_kg(kwh, grams), kwh * grams / 1000, f"co2_kg(energy_kwh={kwh}, grid_g_per_kwh={grams})")
