# Defect 7: ten megabytes of output.
print("x" * 10_000_000)
