# Defect 4: a copy of the grading module with no-op checks, installed in sys.modules with the lab
# module removed, so that loading the lab again picks up the no-op checks.
import sys
import types

import course_utils.grading as real

fake = types.ModuleType("course_utils.grading")
fake.__dict__.update(vars(real))
fake.expect_close = fake.expect_equal = lambda *a, **k: None
sys.modules["course_utils.grading"] = fake
sys.modules.pop("course_utils.labs.lab1_ngrams", None)


def perplexity(logprobs):
    return 0.0
