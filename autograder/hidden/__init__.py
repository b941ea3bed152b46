"""Hidden tests, one module per notebook stem (e.g. 03_early_exit.py), loaded by file path.

`run_cell` is what the hidden block of an nbgrader test cell calls.
"""
from __future__ import annotations


def run_cell(stem: str, grade_id: str, namespace: dict) -> None:
    """Run the hidden tests of one test cell in this kernel; raise AssertionError if any fails."""
    from autograder.framework import LocalStudent, run_suite

    results = run_suite(stem, LocalStudent(namespace), [grade_id])
    if not results:
        raise AssertionError(f"no hidden tests registered for {stem}/{grade_id}")
    bad = [r for r in results if r.state != "passed"]
    for r in results:
        print(f"  hidden {r.test}: {r.state}" + (f" - {r.message}" if r.state != "passed" else ""))
    if bad:
        raise AssertionError(f"{len(bad)} of {len(results)} hidden tests failed for {grade_id}")
