"""Hidden tests of 00_orientation."""

from __future__ import annotations

import torch
from torch import nn

from autograder.suite import Suite, expect, expect_raises, is_close_number

SUITE = Suite("00_orientation")


def _conv_cases(seed: int, count: int) -> list[tuple[int, int, int, int, int]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for _ in range(count):
        groups = int(torch.randint(1, 4, (1,), generator=g))
        cin = groups * int(torch.randint(1, 6, (1,), generator=g))
        cout = groups * int(torch.randint(1, 6, (1,), generator=g))
        k = int(torch.randint(1, 4, (1,), generator=g)) * 2 - 1
        stride = int(torch.randint(1, 3, (1,), generator=g))
        size = int(torch.randint(5, 17, (1,), generator=g))
        cases.append((cin, cout, k, stride, size, groups))
    return cases


@SUITE.test(grade_id="test_conv2d_macs", points=1, uses=("conv2d_macs",))
def conv_macs_match_counter(student) -> None:
    """conv2d_macs matches the course's MAC counter on random strided convolutions"""
    from course_lib.cost import module_macs

    for cin, cout, k, stride, size, _ in _conv_cases(7, 6):
        layer = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        x = torch.zeros(1, cin, size, size)
        out = layer(x)
        got = student.call("conv2d_macs", cin, cout, k, out.shape[2], out.shape[3])
        expect(
            isinstance(got, int) and not isinstance(got, bool),
            f"conv2d_macs should return a Python int, got {type(got).__name__}",
        )
        expect(
            got == module_macs(layer, x),
            f"wrong MAC count for a {cin}->{cout} channel {k}x{k} conv with stride {stride}",
        )


@SUITE.test(grade_id="test_conv2d_macs", points=1, uses=("conv2d_macs",))
def conv_macs_grouped(student) -> None:
    """conv2d_macs divides by groups (grouped and depthwise convolutions)"""
    from course_lib.cost import module_macs

    for cin, cout, k, stride, size, groups in _conv_cases(11, 8) + [(8, 8, 3, 1, 9, 8)]:
        layer = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False)
        x = torch.zeros(1, cin, size, size)
        out = layer(x)
        got = student.call("conv2d_macs", cin, cout, k, out.shape[2], out.shape[3], groups=groups)
        expect(got == module_macs(layer, x), f"wrong MAC count for a conv with groups={groups}")


@SUITE.test(grade_id="test_accuracy", points=1, uses=("accuracy",))
def accuracy_matches_argmax(student) -> None:
    """accuracy is the fraction of argmax hits, as a float in [0, 1]"""
    g = torch.Generator().manual_seed(3)
    for n, c in [(50, 10), (7, 3), (128, 100)]:
        logits = torch.randn(n, c, generator=g)
        y = torch.randint(0, c, (n,), generator=g)
        y[: n // 2] = logits[: n // 2].argmax(1)  # make sure some are right
        expected = float((logits.argmax(1) == y).float().mean())
        got = student.call("accuracy", logits, y)
        expect(isinstance(got, float), f"accuracy should return a Python float, got {type(got).__name__}")
        expect(is_close_number(got, expected, 1e-6), f"wrong accuracy for {n} samples and {c} classes")


@SUITE.test(grade_id="test_accuracy", points=1, uses=("accuracy",))
def accuracy_rejects_bad_shapes(student) -> None:
    """accuracy raises a clear error when logits and labels do not match"""
    logits = torch.randn(10, 4)
    for bad_y in (torch.zeros(9, dtype=torch.long), torch.zeros(10, 1, dtype=torch.long)):
        # the notebook asks for "a clear error", not a particular class
        expect_raises(
            student,
            "accuracy",
            logits,
            bad_y,
            error=None,
            what=f"logits have shape (10, 4) and y has shape {tuple(bad_y.shape)} instead of (N,)",
        )
