"""Progressive hints for the self-study path, one module per notebook stem (e.g. 03_early_exit.py).

Each module defines `HINTS = {graded_function: [level 1, level 2, level 3]}`:
level 1 names the idea, level 2 the approach, level 3 is nearly code but leaves the answer to the
learner. `autograder.selfcheck.hint` loads them by file path (stems start with a digit).
"""
