# Not an attack: things an honest student's notebook does, which must not look like tampering.
import collections
import copy
import dataclasses
import functools
import itertools
import math
import os
import random
import tempfile
import typing
import warnings

import numpy as np
import torch
import torch.nn.functional as F


@dataclasses.dataclass
class Note:
    text: str
    score: float = 0.0


@functools.lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


random.seed(0)
np.random.seed(0)
torch.manual_seed(0)
np.set_printoptions(precision=3)
torch.set_printoptions(precision=3)
warnings.warn("a warning from the notebook")
warnings.filterwarnings("ignore", category=DeprecationWarning)
os.environ["MY_SETTING"] = "1"
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "scratch.txt"), "w") as fh:
        fh.write("notes")
with open("results.txt", "w") as fh:
    fh.write(str(Note("ok", fib(20))))
counts = collections.Counter(itertools.chain("abc", "abd"))
print(counts.most_common(2), math.pi, copy.deepcopy([1, [2]]), typing.List)
print(F.softmax(torch.randn(3), dim=0).sum(), np.linalg.norm(np.ones(4)))
print(torch.randn(2, 2).tolist(), np.arange(3).tolist())
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.plot([1, 2], [3, 4])
    plt.close("all")
except ImportError:
    pass
import enum

Pair = collections.namedtuple("Pair", "left right")
Color = enum.Enum("Color", "RED GREEN")
T = typing.TypeVar("T")
shutil_free = sorted(os.listdir("."))
print(Pair(1, 2), Color.RED, T, shutil_free)
