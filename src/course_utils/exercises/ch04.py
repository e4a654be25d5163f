"""Chapter 4's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

from course_utils.exercises import exercise_set  # noqa: F401  (sets are added here)


# --------------------------------------------------------------------------- 4.5 results and errors
ch04_05 = exercise_set("ch04_05", "Reading a results table", {
    "q1": "the share of a model's parameters that is trained",
    "q2": "a gap between two methods in standard errors (seed noise)",
    "q3": "the expected calibration error",
})


@ch04_05.test("q1")
def share_with_a_frozen_layer(trainable_share):
    import torch

    from course_utils.grading import expect_close

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))   # 15 + 8 numbers
    model[0].requires_grad_(False)
    expect_close(trainable_share(model), 8 / 23, "trainable_share(Linear(4, 3) frozen, Linear(3, 2) trained)")


@ch04_05.test("q2")
def gap_of_two_small_samples(gap_in_standard_errors):
    import numpy as np

    from course_utils.grading import expect_close

    a, b = [0.89, 0.88, 0.90], [0.87, 0.88, 0.86, 0.87]
    se = np.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 4)
    expect_close(gap_in_standard_errors(a, b), (np.mean(a) - np.mean(b)) / se,
                 f"gap_in_standard_errors({a}, {b})", rtol=1e-9, atol=1e-12)


@ch04_05.test("q3")
def ece_of_two_bins(expected_calibration_error):
    from course_utils.grading import expect_close

    confidence = [0.6, 0.6, 0.9, 0.9, 0.9, 0.9]
    correct = [True, False, True, True, True, False]
    # bin [0.5, 0.75): confidence 0.6, accuracy 0.5, 2 of 6; bin [0.75, 1]: confidence 0.9, accuracy 0.75, 4 of 6
    expected = 2 / 6 * abs(0.5 - 0.6) + 4 / 6 * abs(0.75 - 0.9)
    expect_close(expected_calibration_error(confidence, correct, [0.5, 0.75, 1.0]), expected,
                 "expected_calibration_error(6 predictions, edges [0.5, 0.75, 1.0])", rtol=1e-9, atol=1e-12)
