# Defect 4: a numpy scalar subclass whose tolist()/item()/== give the public test's answer.
import numpy as np


class Two(np.float64):
    def tolist(self):
        return 2.0

    item = tolist

    def __eq__(self, other):
        return True


def perplexity(logprobs):
    return Two(0.0)
