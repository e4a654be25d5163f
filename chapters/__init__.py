"""The chapters, installed with the package as ``course_utils._chapters`` so that a notebook run alone (Colab) finds its files: see ``course_utils.resources``."""
