# Defect 7: a notebook that ends the process while its cells run (nothing can be graded).
import os

os._exit(3)
