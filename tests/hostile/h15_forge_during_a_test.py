# Defect 2: forge a passing result from inside a test (the student's function runs while the
# grader waits for that test's result), then return a wrong answer.
import json
import os
import struct


def perplexity(logprobs):
    for fd in range(3, 256):
        for m in ({"k": "result", "q": "q3", "t": "equal_probabilities", "status": "pass", "message": ""},
                  {"k": "start", "q": "q4", "t": "tiny_model"}):
            body = json.dumps(m).encode()
            try:
                os.write(fd, struct.pack("!i", len(body)) + body)
            except OSError:
                break
    return 0.0
