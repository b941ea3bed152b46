"""`python -m autograder.grader grade ...` / `... report DIR` (until autograder/__main__.py dispatches)."""

from __future__ import annotations

import sys

from autograder.grader.cli import main, report_main


def dispatch(argv: list[str]) -> int:
    if argv and argv[0] == "report":
        return report_main(argv[1:])
    if argv and argv[0] == "grade":
        return main(argv[1:])
    print(
        "usage: python -m autograder.grader grade SUBMISSIONS... --out DIR [options]\n"
        "       python -m autograder.grader report DIR",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(dispatch(sys.argv[1:]))
