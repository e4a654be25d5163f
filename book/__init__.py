"""The book's own pages, installed with the package as ``course_utils._book`` (searched by chapter 5's semantic search)."""
