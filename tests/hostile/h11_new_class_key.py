# Defect 4: a new key in a grader class (a __post_init__ that turns every outcome into a pass).
import course_utils.grading as g

g.Outcome.__post_init__ = lambda self: setattr(self, "status", "pass")


def perplexity(logprobs):
    return 0.0
