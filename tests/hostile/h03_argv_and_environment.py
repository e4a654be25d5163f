# Defect 3: what the worker learns about the grader's command line, environment and folders.
import multiprocessing
import os
import sys

print("ARGV", sys.argv, sys.orig_argv)
print("ENV", dict(os.environ))
print("CWD", os.getcwd(), "PATH", sys.path)
print("PROCESS", multiprocessing.current_process()._args, multiprocessing.current_process()._kwargs)
