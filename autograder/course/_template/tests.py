"""Hidden tests for __STEM__ (scaffolded by `python -m autograder new`; replace the example exercise with yours).

Each test grades one behaviour of one graded function, compares with the reference (generated from the solution
cells into reference.py by `python -m autograder release`) on fresh seeded inputs, and has a message that names the
mistake without giving the answer. Every test needs a mutant in mutants.py that it catches.
"""

from __future__ import annotations

import torch

from autograder.student import Student
from autograder.suite import Suite, expect_close, expect_raises, expect_shape, seeded

SUITE = Suite("__STEM__")


def _exit_index(n: int, num_exits: int, seed: int) -> torch.Tensor:
    return torch.randint(0, num_exits, (n,), generator=seeded(seed))


@SUITE.test("test_exit_fractions", points=1, uses=["exit_fractions"])
def exit_fractions_match_the_reference(student: Student) -> None:
    """the share of samples leaving at each exit matches the reference"""
    ref = SUITE.reference()
    for seed, (n, num_exits) in enumerate([(50, 3), (7, 4), (1, 2)]):
        exit_index = _exit_index(n, num_exits, seed)
        actual = student.call("exit_fractions", exit_index.clone(), num_exits)
        expect_close(
            actual,
            ref.exit_fractions(exit_index, num_exits),
            f"exit_fractions on {n} samples and {num_exits} exits (shares, not counts)",
        )


@SUITE.test("test_exit_fractions", points=1, uses=["exit_fractions"])
def exit_fractions_keep_unused_exits(student: Student) -> None:
    """an exit that no sample takes still gets its (zero) share, and a bad index is refused"""
    exit_index = torch.tensor([0, 0, 2, 0])
    actual = student.call("exit_fractions", exit_index, 4)
    expect_shape(actual, (4,), "exit_fractions with 4 exits when exits 1 and 3 are unused")
    expect_close(actual, torch.tensor([0.75, 0.0, 0.25, 0.0]), "exit_fractions with unused exits")
    expect_raises(student, "exit_fractions", torch.tensor([0, 3]), 3, what="an exit index is >= num_exits")
