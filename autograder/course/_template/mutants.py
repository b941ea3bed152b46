"""Known-wrong versions of __STEM__'s graded functions: every hidden test must fail on at least one of them."""

from __future__ import annotations

import torch

from autograder.suite import Mutant


def _counts(exit_index: torch.Tensor, num_exits: int) -> torch.Tensor:
    return torch.bincount(exit_index, minlength=num_exits).float()


def _without_minlength(exit_index: torch.Tensor, num_exits: int) -> torch.Tensor:
    if int(exit_index.max()) >= num_exits:
        raise ValueError("exit index out of range")
    counts = torch.bincount(exit_index).float()
    return counts / len(exit_index)


MUTANTS = [
    Mutant("counts instead of shares", ("exit_fractions_match_the_reference",), {"exit_fractions": _counts}),
    Mutant(
        "bincount without minlength drops unused exits",
        ("exit_fractions_keep_unused_exits",),
        {"exit_fractions": _without_minlength},
    ),
]
