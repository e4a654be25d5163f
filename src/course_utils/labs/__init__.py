"""Public tests of the graded labs, one module per lab (``course_utils.labs.lab1_ngrams``, ...).

They ship with the package so that ``Checker("<lab>")`` works in a lone notebook (e.g. on Colab).
Expected values are computed here from the definitions, on small inputs; hidden tests live with
the instructor (see book/instructors.md).
"""
