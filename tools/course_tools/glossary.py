"""The English–Chinese glossary page, built from every chapter's glossary.csv.

    python -m course_tools.glossary          # rewrite book/glossary.md
    python -m course_tools.glossary --check  # exit 1 if book/glossary.md is out of date

Each `chapters/NN_topic/glossary.csv` has the header `term,term_zh,definition,page`, where page is
a notebook docname such as `chapters/02_attention/01_attention_from_the_formula`, optionally with
`#anchor` (the id of one of its headings).
"""
from __future__ import annotations

import csv
import html
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HEADER = ["term", "term_zh", "definition", "page"]
OUTPUT = Path("book") / "glossary.md"


class GlossaryError(ValueError):
    """A glossary.csv is malformed; the message names the file and line and says how to fix it."""


@dataclass(frozen=True)
class Entry:
    term: str
    term_zh: str
    definition: str
    page: str          # docname, e.g. chapters/01_history/01_language_as_probability
    anchor: str = ""   # heading id on that page, or ""
    source: str = ""   # file:line it came from


def glossary_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every chapter's glossary.csv, in chapter order."""
    return sorted((root / "chapters").glob("*/glossary.csv"))


def read_entries(root: Path = REPO_ROOT) -> list[Entry]:
    """All entries of all glossary files (none is fine), each row checked for completeness."""
    entries: list[Entry] = []
    for path in glossary_files(root):
        rel = path.relative_to(root).as_posix()
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        if not rows or [c.strip() for c in rows[0]] != HEADER:
            raise GlossaryError(f"{rel}: the first line must be exactly `{','.join(HEADER)}`, "
                                f"got {','.join(rows[0]) if rows else 'an empty file'!r}")
        for n, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            if len(row) != 4 or not all(c.strip() for c in row):
                raise GlossaryError(f"{rel}:{n}: need 4 non-empty fields (term,term_zh,definition,page); "
                                    f"got {row!r} (quote a field that contains a comma)")
            term, zh, definition, page = (c.strip() for c in row)
            doc, _, anchor = page.partition("#")
            doc = doc.removesuffix(".ipynb").removesuffix(".md")
            if not re.fullmatch(r"chapters/\d\d_[\w-]+/[\w-]+", doc):
                raise GlossaryError(f"{rel}:{n}: page {page!r} is not a docname like "
                                    "chapters/02_attention/01_attention_from_the_formula[#heading-id]")
            entries.append(Entry(term, zh, definition, doc, anchor, f"{rel}:{n}"))
    return entries


def page_file(doc: str, root: Path = REPO_ROOT) -> Path | None:
    """The source file (.ipynb or .md) of a docname, or None if there is none."""
    for ext in (".ipynb", ".md"):
        if (root / f"{doc}{ext}").is_file():
            return root / f"{doc}{ext}"
    return None


def _markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n\n".join("".join(c.get("source", [])) for c in nb.get("cells", []) if c.get("cell_type") == "markdown")


def headings(path: Path) -> list[tuple[int, str]]:
    """(level, text) of every markdown heading of a page, outside code fences."""
    out, fenced = [], False
    for line in _markdown_of(path).splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)):
            out.append((len(m[1]), m[2]))
    return out


def heading_ids(path: Path) -> set[str]:
    """The HTML ids Sphinx gives the page's headings (docutils make_id of the heading text)."""
    from docutils.nodes import make_id

    ids = set()
    for _, text in headings(path):
        plain = re.sub(r"[`*$]|\{[^}]+\}", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text))
        ids.add(make_id(plain))
    return ids


def page_title(doc: str, root: Path = REPO_ROOT) -> str:
    """The first heading of a page (its title), or the docname when it has none."""
    path = page_file(doc, root)
    found = headings(path) if path else []
    return found[0][1] if found else doc.rsplit("/", 1)[-1]


def problems(entries: list[Entry], root: Path = REPO_ROOT) -> list[str]:
    """Links that do not resolve: a missing page, or an anchor that is no heading id of it."""
    out = []
    for e in entries:
        path = page_file(e.page, root)
        if path is None:
            out.append(f"{e.source}: {e.term!r} links to {e.page}, which does not exist")
        elif e.anchor and e.anchor not in heading_ids(path):
            out.append(f"{e.source}: {e.term!r} links to #{e.anchor}, not a heading id of {e.page} "
                       f"(ids: {', '.join(sorted(heading_ids(path))) or 'none'})")
    return out


_TEX = {r"\times": "×", r"\cdot": "·", r"\approx": "≈", r"\leq": "≤", r"\geq": "≥", r"\le": "≤",
        r"\ge": "≥", r"\to": "→", r"\infty": "∞", r"\ell": "ℓ", r"\alpha": "α", r"\theta": "θ"}


def tex_to_text(tex: str) -> str:
    """Inline TeX as plain Unicode text for a link (pages without equations load no MathJax)."""
    t = re.sub(r"\\(?:mathrm|text|mathbf|operatorname)\{([^{}]*)\}", r"\1", tex)
    t = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", t)
    t = re.sub(r"\\sqrt\{([^{}]*)\}", lambda m: "√" + (m[1] if len(m[1]) <= 1 or "_" in m[1] else f"({m[1]})"), t)
    for k, v in sorted(_TEX.items(), key=lambda kv: -len(kv[0])):
        t = t.replace(k, v)
    t = re.sub(r"\^\{?2\}?", "²", t)
    t = re.sub(r"\\([a-zA-Z]+)", r"\1", t)
    return t.replace("{", "").replace("}", "").replace("\\", "")


def title_html(title: str) -> str:
    """A page title as HTML link text: Markdown marks dropped, `$math$` as plain Unicode text."""
    parts = re.split(r"\$([^$]+)\$", title)
    return "".join(html.escape(tex_to_text(p) if i % 2 else re.sub(r"[`*]", "", p)) for i, p in enumerate(parts))


def _md(text: str) -> str:
    """One line of plain text, with the characters Markdown/MyST would interpret escaped."""
    return re.sub(r"([\\`*_{}\[\]<>$#|])", r"\\\1", " ".join(text.split()))


def render(entries: list[Entry], root: Path = REPO_ROOT) -> str:
    """The Markdown of book/glossary.md: A-Z links, then one section per letter (numbers and symbols first),
    each a definition list of its terms, sorted alphabetically."""
    lines = [
        "# Glossary 术语表",
        "",
        "<!-- Generated by `python -m course_tools.glossary` from chapters/*/glossary.csv: do not edit. -->",
        "",
        "Every term the chapters introduce, with its Chinese equivalent, a one-line definition and a",
        "link to the section that teaches it.",
        "",
    ]
    if not entries:
        lines.append("The chapters have not defined any terms yet.")
        return "\n".join(lines) + "\n"
    by_term: dict[str, list[Entry]] = {}
    for e in entries:  # a term taught again in a later chapter: one entry, the first definition, every link
        by_term.setdefault(e.term.casefold(), []).append(e)
    sections: dict[str, list[str]] = {}
    for key in sorted(by_term):
        sections.setdefault(letter_of(key), []).append(key)
    order = sorted(sections, key=lambda k: (k != SYMBOLS, k))
    lines += [letter_nav(order), ""]
    for letter in order:
        lines += [f"({section_label(letter)})=", f"## {SECTION_TITLE.get(letter, letter)}", ""]
        for key in sections[letter]:
            first = by_term[key][0]
            links = []
            for e in by_term[key]:
                href = f"../{e.page}.html" + (f"#{e.anchor}" if e.anchor else "")
                link = f'<a href="{href}">{title_html(page_title(e.page, root))}</a>'
                if link not in links:
                    links.append(link)
            lines += [f"**{_md(first.term)}** · {_md(first.term_zh)}",
                      f": {_md(first.definition)} *Taught in* {'; '.join(links)}.", ""]
    return "\n".join(lines) + "\n"


SYMBOLS = "#"
SECTION_TITLE = {SYMBOLS: "Numbers and symbols"}


def letter_of(term: str) -> str:
    """The A-Z section of a term: its first letter (accents dropped), or SYMBOLS for 6ND, [CLS], ..."""
    import unicodedata

    for ch in unicodedata.normalize("NFKD", term.strip()):
        if ch.isascii() and ch.isalpha():
            return ch.upper()
        if ch.isalnum() or ch.isascii():
            return SYMBOLS
    return SYMBOLS


def section_label(letter: str) -> str:
    """The explicit target (HTML id) of a letter's section: glossary-a ... glossary-z, glossary-symbols."""
    return "glossary-symbols" if letter == SYMBOLS else f"glossary-{letter.lower()}"


def letter_nav(letters) -> str:
    """The row of A-Z links at the top of the page; letters without terms are shown but not linked."""
    have = set(letters)
    items = [f'<a href="#{section_label(SYMBOLS)}" title="Numbers and symbols">#</a>'] if SYMBOLS in have else []
    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        items.append(f'<a href="#{section_label(c)}">{c}</a>' if c in have
                     else f'<span class="glossary-nav-empty" style="opacity:0.35">{c}</span>')
    return '<nav class="glossary-nav" aria-label="Glossary letters">' + " · ".join(items) + "</nav>"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    entries = read_entries()
    text = render(entries)
    out = REPO_ROOT / OUTPUT
    for p in problems(entries):
        print(f"warning: {p}", file=sys.stderr)
    if "--check" in args:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run `python -m course_tools.glossary`", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}: {len(entries)} terms from {len(glossary_files())} chapter files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
