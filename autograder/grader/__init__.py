"""The course's own grader: each submission's notebook runs in a separate runner process, hidden tests
run in the trusted judge process, results are written as they arrive.

Entry points: `autograder.grader.cli.main(argv)` (grade) and `autograder.grader.cli.report_main(argv)`.
"""

from __future__ import annotations

__all__ = ["cli", "judge", "notebook", "records", "report", "runner", "sandbox", "suites", "protocol", "trusted"]
