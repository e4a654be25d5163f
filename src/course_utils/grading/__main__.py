"""``python -m course_utils.grading``: the same as ``course-grade``."""
import sys

if __name__ == "__main__":
    from course_utils.grading import main

    sys.modules["__main__"].__spec__ = None  # multiprocessing then re-imports by path, quietly
    sys.exit(main())
