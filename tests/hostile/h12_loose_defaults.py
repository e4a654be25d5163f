# Defect 4: loosen expect_close's tolerances through its defaults.
import course_utils.grading as g

try:
    g.expect_close.__defaults__ = (1e9, 1e9)
    print("defaults: ALLOWED")
except Exception as err:
    print(f"defaults: REFUSED ({type(err).__name__})")
