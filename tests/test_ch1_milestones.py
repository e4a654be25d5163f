"""The chapter-1 timeline table: well-formed, and every row carries its primary source."""
import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "chapters" / "01_history" / "milestones.csv"
BIB = ROOT / "book" / "references.bib"


def test_columns_and_types():
    df = pd.read_csv(TABLE)
    assert list(df.columns[:5]) == ["model", "year", "month", "params", "source"]
    assert df["model"].is_unique
    assert df["year"].between(1940, 2030).all() and df["month"].between(1, 12).all()
    assert (df["params"].dropna() > 0).all()
    dates = df["year"] + df["month"] / 12
    assert dates.is_monotonic_increasing, "keep the table in chronological order"


def test_every_row_has_a_source_with_an_arxiv_id_or_says_why_not():
    df = pd.read_csv(TABLE)
    for _, row in df.iterrows():
        src = str(row["source"])
        assert re.search(r"arXiv:\d{4}\.\d{4,5}", src) or "no arXiv id" in src, row["model"]


def test_every_arxiv_id_is_in_the_bibliography():
    bib = BIB.read_text(encoding="utf-8")
    ids = re.findall(r"arXiv:(\d{4}\.\d{4,5})", TABLE.read_text(encoding="utf-8"))
    assert ids
    for arxiv_id in ids:
        assert arxiv_id in bib, f"arXiv {arxiv_id} from milestones.csv is missing in book/references.bib"


def test_the_transformer_row_uses_the_correct_arxiv_id():
    df = pd.read_csv(TABLE)
    src = df.loc[df["model"].str.startswith("Transformer"), "source"].item()
    assert "arXiv:1706.03762" in src and "arXiv:1603.04467" not in src
