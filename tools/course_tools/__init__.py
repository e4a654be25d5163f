"""The course's book and development tooling, apart from what a notebook imports (``course_utils``):
``bookbuild`` (``make book``'s executor and cache), ``bookext`` (a Sphinx extension of the book),
``glossary`` (book/glossary.md from the chapters' CSV files) and ``nbtools`` (notebook hygiene).

It is its own small distribution (``tools/pyproject.toml``), installed by ``make install`` next to
the course package; a learner's ``pip install`` of the course does not include it.
"""
