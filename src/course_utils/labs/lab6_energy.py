"""Lab 6 public tests: training compute (6ND), hardware hours, energy and carbon."""
from __future__ import annotations

from course_utils import energy
from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab6_energy", "6ND FLOPs, energy and carbon from hardware hours", {
    "q1": "training FLOPs with the 6ND rule",
    "q2": "accelerator hours",
    "q3": "energy in kWh",
    "q4": "carbon in kg CO2e",
    "q5": "a training run's energy and emissions with low and high bounds",
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


def reference_footprint(n_params: float, n_tokens: float, peak_flops: float, watts: float, pue: float,
                        mfu: float, grid_g_per_kwh: float) -> tuple[float, float]:
    """(kWh, kg CO2e) of one scenario with the course's own functions (course_utils.energy)."""
    hours = energy.training_flops(n_params, n_tokens) / (peak_flops * mfu) / 3600
    kwh = energy.energy_kwh(hours, watts, pue)
    return kwh, energy.co2e_kg(kwh, grid_g_per_kwh / 1000)


@lab.test("q5")
def point_estimate_and_ordered_bounds(footprint_range):
    n, d, peak, watts, pue = 124e6, 1e10, 312e12, 400.0, 1.0
    mfu, grid = (0.3, 0.4, 0.5), (50.0, 400.0, 800.0)
    kwh, kg = reference_footprint(n, d, peak, watts, pue, mfu[1], grid[1])
    out = footprint_range(n, d, peak, watts, pue, mfu, grid)
    what = f"footprint_range({n:.3g}, {d:.3g}, {peak:.3g}, {watts}, pue={pue}, mfu={mfu}, grid={grid})"
    expect_close(out["kwh"][1], kwh, f"the point estimate of kWh of {what} vs course_utils.energy", rtol=1e-6)
    expect_close(out["kg_co2e"][1], kg, f"the point estimate of kg CO2e of {what} vs course_utils.energy", rtol=1e-6)
    for key in ("kwh", "kg_co2e"):
        low, point, high = out[key]
        expect_equal(low <= point <= high, True, f"low <= point <= high for {key} of {what}: got {out[key]}")
