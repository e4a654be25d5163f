"""Measured results (JSON), installed with the package as ``course_utils._results``: read them with ``course_utils.results``."""
