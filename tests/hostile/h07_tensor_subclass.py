# Defect 4: a tensor subclass whose tolist() gives the public test's answer.
import torch


class Two(torch.Tensor):
    def tolist(self):
        return 2.0


def perplexity(logprobs):
    return torch.tensor(0.0).as_subclass(Two)
