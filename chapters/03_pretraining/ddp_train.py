"""Data-parallel training of the chapter's mini GPT with DistributedDataParallel (DDP).

    torchrun --nproc_per_node=2 chapters/03_pretraining/ddp_train.py --steps 20   # 2 processes
    python chapters/03_pretraining/ddp_train.py --steps 20                        # 1 process

Every step uses one global batch of ``--global-batch`` sequences; with N processes each takes its
own 1/N slice, DDP averages the gradients, so N processes follow the same loss curve as one
process on the whole batch (up to floating-point summation order). Backend: nccl on GPU, gloo on
CPU. Rank 0 writes the per-step loss of the global batch to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from course_utils.chardata import shakespeare_chars
from course_utils.models import GPT, GPTConfig
from course_utils.train import TrainConfig, train


def main() -> None:
    ap = argparse.ArgumentParser(description="DDP training of a tiny GPT on Tiny Shakespeare")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--global-batch", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--out", default=None, help="JSON file for the loss curve (rank 0 writes it)")
    args = ap.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world > 1
    if distributed:
        use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= world
        dist.init_process_group("nccl" if use_cuda else "gloo")
        device = torch.device(f"cuda:{int(os.environ['LOCAL_RANK'])}" if use_cuda else "cpu")
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.global_batch % world:
        raise SystemExit(f"--global-batch {args.global_batch} must be divisible by the {world} processes")
    torch.set_num_threads(1)

    data = shakespeare_chars()
    torch.manual_seed(0)                     # same initial weights in every process
    cfg = GPTConfig(vocab_size=data.tokenizer.vocab_size, block_size=args.block_size,
                    n_layer=2, n_head=2, n_embd=64)
    model = GPT(cfg).to(device)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    full = data.batches("train", args.global_batch, args.block_size, seed=0)
    share = args.global_batch // world

    def get_batch(step: int):                # this process's slice of the global batch
        x, y = full(step)
        return x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]

    def loss_fn(m, batch):
        x, y = batch
        return F.cross_entropy(m(x).flatten(0, 1), y.flatten())

    hist = train(net, get_batch, TrainConfig(max_steps=args.steps, lr=1e-3, warmup_steps=5,
                                             progress=False), loss_fn=loss_fn, device=device)
    local = torch.tensor(hist.train_loss, dtype=torch.float64)
    if distributed:                          # equal slices: global-batch loss = mean of the slices
        dist.all_reduce(local)
        local /= world
    checksum = float(sum(p.double().sum() for p in model.parameters()))
    if rank == 0:
        result = {"world_size": world, "global_batch": args.global_batch, "steps": args.steps,
                  "loss": local.tolist(), "param_checksum": checksum,
                  "backend": dist.get_backend() if distributed else "none"}
        if args.out:
            Path(args.out).write_text(json.dumps(result) + "\n")
        print(f"world size {world}: loss {local[0]:.4f} -> {local[-1]:.4f} "
              f"(parameter checksum {checksum:.6f})")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
