"""GENERATED from solutions/00_orientation.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""

import torch


# cell 00-07
def conv2d_macs(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    out_height: int,
    out_width: int,
    groups: int = 1,
) -> int:
    """MACs of one Conv2d forward on a single image (bias not counted).

    Args:
        in_channels, out_channels: channel counts of the layer (both divisible by `groups`).
        kernel_size: side of the square kernel.
        out_height, out_width: spatial size of the layer's *output* (stride and padding already applied).
        groups: number of channel groups (1 = ordinary conv, in_channels = depthwise).
    Returns:
        The number of multiply-accumulates as a Python int.
    """
    for name, value in {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel_size,
        "out_height": out_height,
        "out_width": out_width,
        "groups": groups,
    }.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
        )
    return int(
        out_channels * out_height * out_width * (in_channels // groups) * kernel_size * kernel_size
    )


# cell 00-14
def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of `logits` (N, C) whose argmax equals the label in `y` (N,), as a float in [0, 1]."""
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    if y.shape != (logits.shape[0],):
        raise ValueError(f"y must have shape ({logits.shape[0]},), got {tuple(y.shape)}")
    if len(y) == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return float((logits.argmax(dim=1) == y).float().mean())
