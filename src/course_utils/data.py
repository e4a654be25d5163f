"""Checksummed data sets: found in COURSE_DATA_DIR, then in a user cache, else downloaded.

Every read verifies the SHA-256 listed below (the same hashes as ``shared/data/README.md``),
so a truncated or edited file is reported, never silently used.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class DataError(RuntimeError):
    """A data file is missing, unreachable or fails its checksum; the message says what to do."""


@dataclass(frozen=True)
class DataFile:
    relpath: str
    url: str
    sha256: str


FILES: dict[str, DataFile] = {
    "tinyshakespeare": DataFile(
        "tinyshakespeare.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
    "sst2/train": DataFile(
        "sst2/train.tsv",
        "https://raw.githubusercontent.com/awake020/pytorch_Bert_sst2/master/SST-2/train.tsv",
        "e981ceb4fe6c9acd1c79851d0d091b9e78103f1f2a399ca83dda27915d41c56c",
    ),
    "sst2/dev": DataFile(
        "sst2/dev.tsv",
        "https://raw.githubusercontent.com/awake020/pytorch_Bert_sst2/master/SST-2/dev.tsv",
        "84207e6be5873fb18db798cc6faec86871f5a426554650ff64a1c34e87665f6f",
    ),
    "sst2/test": DataFile(
        "sst2/test.tsv",
        "https://raw.githubusercontent.com/awake020/pytorch_Bert_sst2/master/SST-2/test.tsv",
        "fcd46f967b7b8efd8b5398481dadf873886298d092195167af907fd532e81e1c",
    ),
    "cmn-eng": DataFile(
        "cmn-eng.txt",
        "https://raw.githubusercontent.com/pjgao/seq2seq_keras/master/data/cmn.txt",
        "74bd3c04dfe0ec75aaaf165597b2a83c6a733d34f46b184fc21ca6b552c268d3",
    ),
}


def cache_dir() -> Path:
    """The user cache for downloaded files: $LLM_COURSE_CACHE or ~/.cache/llm-course."""
    return Path(os.environ.get("LLM_COURSE_CACHE", Path.home() / ".cache" / "llm-course"))


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, spec: DataFile) -> Path:
    got = sha256_of(path)
    if got != spec.sha256:
        raise DataError(
            f"{path} fails its checksum (sha256 {got[:12]}..., expected {spec.sha256[:12]}...). "
            f"The file is corrupt or not the published version: delete it and re-run to download "
            f"it again from {spec.url}, or restore the original into COURSE_DATA_DIR."
        )
    return path


def source_url(spec: DataFile) -> str:
    """Where a file is downloaded from: its public URL, or $COURSE_DATA_URL_BASE/<relpath> (a mirror)."""
    base = os.environ.get("COURSE_DATA_URL_BASE", "").rstrip("/")
    return f"{base}/{spec.relpath}" if base else spec.url


def _download(spec: DataFile, dest: Path, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    url = source_url(spec)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        if sha256_of(Path(tmp)) != spec.sha256:
            raise DataError(f"the file downloaded from {url} fails its checksum; the source "
                            "changed or the download was cut: try again, or report it to the course.")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def data_path(name: str, download: bool | None = None, timeout: float = 30.0) -> Path:
    """Path of a verified data file: COURSE_DATA_DIR, then the cache, else download into the cache.

    ``download=None`` downloads unless COURSE_OFFLINE=1 is set.
    """
    if name not in FILES:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(FILES)}")
    spec = FILES[name]
    looked: list[str] = []
    env_dir = os.environ.get("COURSE_DATA_DIR")
    if env_dir:
        candidate = Path(env_dir).expanduser() / spec.relpath
        looked.append(str(candidate))
        if candidate.is_file():
            return _verify(candidate, spec)
    cached = cache_dir() / spec.relpath
    looked.append(str(cached))
    if cached.is_file():
        return _verify(cached, spec)
    if download is None:
        download = os.environ.get("COURSE_OFFLINE", "").lower() not in ("1", "true", "yes")
    if download:
        try:
            _download(spec, cached, timeout)
            return cached
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            reason = f"downloading {source_url(spec)} failed ({err})"
    else:
        reason = "downloads are off (COURSE_OFFLINE=1)"
    raise DataError(
        f"data file {spec.relpath!r} not found; looked in: {', '.join(looked)}; {reason}. "
        f"Fix: set COURSE_DATA_DIR to a folder holding {spec.relpath} (the course's shared/data), "
        f"or connect to the internet so it can be downloaded into {cache_dir()}."
    )


def load_tinyshakespeare() -> str:
    """Tiny Shakespeare (1,115,394 characters) as one string."""
    return data_path("tinyshakespeare").read_text(encoding="utf-8")


def load_sst2(split: str = "train") -> tuple[list[str], list[int]]:
    """SST-2 sentences and labels (0 negative, 1 positive) for split train | dev | test."""
    if split not in ("train", "dev", "test"):
        raise ValueError(f"split must be 'train', 'dev' or 'test', not {split!r}")
    texts: list[str] = []
    labels: list[int] = []
    lines = data_path(f"sst2/{split}").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines[1:], start=2):  # skip the header; columns by position
        if not line.strip():
            continue
        label, _, text = line.partition("\t")
        if label not in ("0", "1"):
            raise DataError(f"sst2/{split}.tsv line {i}: label {label!r} is not 0 or 1")
        labels.append(int(label))
        texts.append(text)
    return texts, labels


def load_cmn_eng() -> list[tuple[str, str]]:
    """English-Chinese sentence pairs (en, zh) from Tatoeba (CC-BY 2.0 FR)."""
    pairs = []
    for line in data_path("cmn-eng").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            pairs.append((parts[0], parts[1]))
    return pairs


def prefetch() -> list[Path]:
    """Make sure every data file is available (downloads what is missing); returns their paths."""
    return [data_path(name) for name in FILES]
