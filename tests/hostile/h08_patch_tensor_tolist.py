# Defect 4: patch torch.Tensor.tolist (a new key in the class dictionary) to fake the answers.
import torch

torch.Tensor.tolist = lambda self: 2.0


def perplexity(logprobs):
    return torch.tensor(0.0)
