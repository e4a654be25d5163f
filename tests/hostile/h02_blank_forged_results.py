# Defect 2: forged results from a notebook with no answers: a "cells done" message, then results
# claiming 45 points for every test, written in the grader's framing to every descriptor.
import json
import os
import struct

messages = [{"k": "cells_done", "errors": [], "output": ""}]
messages += [{"k": "result", "q": q, "t": "any", "status": "pass", "points": 45, "max_points": 1}
             for q in ("q1", "q2", "q3", "q4")]
messages += [{"k": "done"}]
for fd in range(3, 256):
    for m in messages:
        body = json.dumps(m).encode()
        try:
            os.write(fd, struct.pack("!i", len(body)) + body)
        except OSError:
            break
