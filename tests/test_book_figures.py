"""Every notebook that draws with matplotlib shows its figures in the built book.

Guards against a whole class of silent breakage: e.g. MPLBACKEND=Agg in the build environment
makes every `plt.show()` in the kernels print nothing, and the pages lose all their figures.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
BOOK_NOTEBOOKS = sorted(ROOT.glob("chapters/*/[0-9]*.ipynb")) + sorted(ROOT.glob("exercises/*/student.ipynb"))


def draws(nb: Path) -> bool:
    cells = json.loads(nb.read_text())["cells"]
    return any(c["cell_type"] == "code" and re.search(r"plt\.(show|subplots)\(|\.plot\(|heatmap\(",
                                                       "".join(c["source"])) for c in cells)


@pytest.mark.book
@pytest.mark.skipif(not (HTML / "index.html").is_file(), reason="book not built: run `make book` first")
@pytest.mark.parametrize("nb", [n for n in BOOK_NOTEBOOKS if draws(n)], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_figures_reach_the_page(nb):
    page = HTML / nb.relative_to(ROOT).with_suffix(".html")
    assert page.is_file(), f"{page} was not built"
    html = page.read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="[^"]*_images/[^"]+\.(png|svg|jpg)"', html), \
        f"{nb.name} draws figures but its page shows none (is MPLBACKEND set in the build environment?)"
