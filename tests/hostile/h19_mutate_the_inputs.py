# Defect 4: empty the test's own input list, so that an expected value computed from it after the
# call is empty too, and return the matching empty answer.
def bigram_counts(tokens):
    tokens.clear()
    return {}
