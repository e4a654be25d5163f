"""Chapter 5 benchmark: SmolLM2-135M-Instruct without training, (a) in-context learning on SST-2 and
(b) answers to the course's questions with and without retrieved passages.

    COURSE_PROFILE=cpu .venv/bin/python benchmarks/smollm2_icl.py --part icl    # ~5-10 min on 2 busy cores
    COURSE_PROFILE=cpu .venv/bin/python benchmarks/smollm2_icl.py --part rag    # ~5 min
    .venv/bin/python benchmarks/smollm2_icl.py --profile ci                     # both, tiny, ~1 min

(a) A fixed random subset of the SST-2 dev set (seed 0) is classified with k = 0 (zero-shot) and
k = 2, 4, 8, 16 demonstrations drawn from the train split (balanced; the same prompt for every
sentence; three draws, seeds 0-2, in the cpu profile, since which examples are shown matters): the label is the word, " negative" or " positive", with the higher log-probability
after "Sentiment:" (course_utils.prompting.label_logprobs; the demonstrations are cached once per k).
Each k records its accuracy, seconds, prompt length and the per-sentence log-probabilities.
The faster of fp32 and bf16 is measured on a few sentences first and used.

(b) Every question of chapters/05_applications/retrieval_answers.csv is put to SmolLM2 twice through
its chat template, greedy: the question alone, and the question after the top passages that
MiniLM's search finds in the book (course_utils.retrieval, as notebook 5.2). An answer is right when
it contains one of the question's expected keywords (course_utils.prompting.contains_answer).

Both parts write into results/smollm2_icl_<profile>.json through course_utils.results (a part
keeps the other part's stored entry).
"""
from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import torch

from course_utils import prompting as P
from course_utils import results
from course_utils.data import load_sst2
from course_utils.models import load_smollm2
from course_utils.runtime import get_profile, pick

NAME = "smollm2_icl"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def faster_dtype(model, tok, texts: list[str]) -> tuple[str, dict[str, float]]:
    """Time label scoring of ``texts`` in fp32 and bf16 (after a warm-up); return the faster and the times."""
    times = {}
    for name in ("float32", "bfloat16"):
        model.to(DTYPES[name])
        P.label_logprobs(model, tok, P.INSTRUCTION, texts[:2], batch_size=2)           # warm-up
        t0 = time.perf_counter()
        P.label_logprobs(model, tok, P.INSTRUCTION, texts, batch_size=len(texts))
        times[name] = round(time.perf_counter() - t0, 3)
    return min(times, key=times.get), times


def score_k(model, tok, texts, labels, train_x, train_y, k: int, seed: int, batch_size: int) -> dict:
    """Accuracy and cost of one prompt: k demonstrations drawn with seed, then every sentence."""
    demos = P.balanced_demonstrations(train_x, train_y, k, seed=seed)
    prefix = P.prompt_prefix(demos)
    t0 = time.perf_counter()
    logps = P.label_logprobs(model, tok, prefix, texts, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    pred = P.predict(logps)
    row = {
        "k": k, "seed": seed, "accuracy": round(float((pred == labels).float().mean()), 4),
        "predicted_positive_share": round(float(pred.float().mean()), 4),
        "seconds": round(seconds, 2), "seconds_per_sentence": round(seconds / len(texts), 4),
        "prefix_tokens": len(tok(prefix, add_special_tokens=False)["input_ids"]),
        "demonstrations": [[t, y] for t, y in demos],
        "logp_negative": [round(float(v), 3) for v in logps[:, 0]],
        "logp_positive": [round(float(v), 3) for v in logps[:, 1]],
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(f"k={k:2d} seed {seed}: accuracy {row['accuracy']:.3f} (predicted positive {row['predicted_positive_share']:.2f}), "
          f"{seconds:.1f} s, prefix {row['prefix_tokens']} tokens", flush=True)
    return row


def run_icl(profile: str, model, tok, n: int, ks: list[int], seeds: list[int], batch_size: int,
            dtype: str | None) -> dict:
    dev_x, dev_y = load_sst2("dev")
    train_x, train_y = load_sst2("train")
    order = list(range(len(dev_x)))
    random.Random(0).shuffle(order)                  # the dev subset: always seed 0
    idx = sorted(order[:n])
    texts, labels = [dev_x[i] for i in idx], torch.tensor([dev_y[i] for i in idx])
    if dtype is None:
        dtype, dtype_seconds = faster_dtype(model, tok, texts[:8])
    else:
        dtype_seconds = {}
    model.to(DTYPES[dtype])
    rows = []
    for k in ks:
        for seed in seeds[:1] if k == 0 else seeds:    # zero-shot has no demonstrations to draw
            rows.append(score_k(model, tok, texts, labels, train_x, train_y, k, seed, batch_size))
    return {
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized)", "dtype": dtype,
        "dtype_seconds_8_sentences": dtype_seconds, "threads": torch.get_num_threads(),
        "n_sentences": len(texts), "positive_share": round(float(labels.float().mean()), 4),
        "dev_indices": idx, "subset_seed": 0, "demonstration_seeds": seeds, "batch_size": batch_size,
        "instruction": P.INSTRUCTION, "template": P.TEMPLATE, "label_words": list(P.LABEL_WORDS),
        "trainable_params": 0, "total_params": sum(p.numel() for p in model.parameters()),
        "rows": rows,
    }


def run_rag(profile: str, model, tok, n_questions: int | None, top: int, new_tokens: int) -> dict:
    import csv

    from course_utils import retrieval as R
    from course_utils.align import generate_answers
    from course_utils.models import load_minilm
    from course_utils.resources import chapter_file

    with open(chapter_file("05_applications/retrieval_answers.csv"), encoding="utf-8", newline="") as f:
        qs = list(csv.DictReader(f))[:n_questions]
    model.to(torch.float32)
    t0 = time.perf_counter()
    patterns = pick(ci=("book/*.md", "chapters/*/index.md", "chapters/00_start/[0-9]*.ipynb"),
                    cpu=R.DEFAULT_PATTERNS, gpu=R.DEFAULT_PATTERNS, profile=profile)
    passages = R.course_passages(patterns=patterns)
    etok, enc = load_minilm()
    doc_vecs = R.embed([p.for_embedding() for p in passages], etok, enc,
                       max_length=pick(ci=64, cpu=256, gpu=256, profile=profile))
    q_vecs = R.embed([q["question"] for q in qs], etok, enc)
    _, hits = R.search(q_vecs, doc_vecs, k=top)
    index_seconds = time.perf_counter() - t0
    sources = [[passages[i] for i in row] for row in hits.tolist()]
    answers = {}
    seconds = {}
    for mode in ("question only", "with retrieval"):
        prompts = [P.rag_prompt(q["question"], [p.text for p in src] if mode == "with retrieval" else ())
                   for q, src in zip(qs, sources)]
        t0 = time.perf_counter()
        answers[mode] = generate_answers(model, tok, prompts, max_new_tokens=new_tokens, system=P.RAG_SYSTEM,
                                         batch_size=4)
        seconds[mode] = round(time.perf_counter() - t0, 2)
        print(f"{mode}: {seconds[mode]:.1f} s")
    rows = []
    for q, src, a0, a1 in zip(qs, sources, answers["question only"], answers["with retrieval"]):
        rows.append({"question": q["question"], "keywords": q["keywords"], "gold_page": q["page"],
                     "retrieved_pages": [p.page for p in src],
                     "gold_retrieved": any(R.is_hit(p.page, q["page"]) for p in src),
                     "keywords_in_passages": P.contains_answer(" ".join(p.text for p in src), q["keywords"]),
                     "answer_without": a0, "correct_without": P.contains_answer(a0, q["keywords"]),
                     "answer_with": a1, "correct_with": P.contains_answer(a1, q["keywords"])})
    n = len(rows)
    return {"n_questions": n, "top_passages": top, "max_new_tokens": new_tokens, "system": P.RAG_SYSTEM,
            "template": P.RAG_TEMPLATE, "n_passages": len(passages), "index_seconds": round(index_seconds, 2),
            "seconds": seconds,
            "accuracy_without": round(sum(r["correct_without"] for r in rows) / n, 4),
            "accuracy_with": round(sum(r["correct_with"] for r in rows) / n, 4),
            "gold_retrieved_share": round(sum(r["gold_retrieved"] for r in rows) / n, 4),
            "keywords_in_passages_share": round(sum(r["keywords_in_passages"] for r in rows) / n, 4),
            "load_average_1min": round(os.getloadavg()[0], 2), "rows": rows}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default=None, help="ci, cpu or gpu (default: COURSE_PROFILE / automatic)")
    ap.add_argument("--part", choices=("icl", "rag", "all"), default="all")
    ap.add_argument("--n", type=int, default=None, help="dev sentences (ci 6, cpu 200, gpu 872)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="default: the faster, measured")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default 1 on a CPU: on a shared 2-core machine 2 threads wait on each other)")
    ap.add_argument("--out", type=Path, default=None, help="write here instead of results/")
    args = ap.parse_args(argv)
    profile = args.profile or get_profile()
    threads = args.threads or pick(ci=1, cpu=1, gpu=None, profile=profile)
    if threads:
        torch.set_num_threads(threads)
    model, tok = load_smollm2()
    payload = results.payload(results.load(NAME, profile)) if args.out is None else {}
    if args.part in ("icl", "all"):
        t0 = time.perf_counter()
        payload["icl"] = run_icl(profile, model, tok, args.n or pick(ci=6, cpu=200, gpu=872, profile=profile),
                                 pick(ci=[0, 2], cpu=[0, 2, 4, 8, 16], gpu=[0, 2, 4, 8, 16], profile=profile),
                                 seeds=pick(ci=[0], cpu=[0, 1, 2], gpu=[0, 1, 2, 3, 4], profile=profile),
                                 batch_size=pick(ci=6, cpu=10, gpu=64, profile=profile),
                                 dtype=args.dtype or pick(ci="float32", cpu=None, gpu="bfloat16", profile=profile))
        payload["icl"]["total_seconds"] = round(time.perf_counter() - t0, 1)
    if args.part in ("rag", "all"):
        t0 = time.perf_counter()
        payload["rag"] = run_rag(profile, model, tok, pick(ci=2, cpu=None, gpu=None, profile=profile),
                                 top=2, new_tokens=pick(ci=16, cpu=40, gpu=40, profile=profile))
        payload["rag"]["total_seconds"] = round(time.perf_counter() - t0, 1)
    path = results.save(NAME, payload, profile, path=args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
