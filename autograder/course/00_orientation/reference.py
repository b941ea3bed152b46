"""Reference implementations of 00_orientation's graded functions."""
from __future__ import annotations

import torch


def conv2d_macs(in_channels: int, out_channels: int, kernel_size: int, out_height: int, out_width: int,
                groups: int = 1) -> int:
    """MACs of one Conv2d forward on a single image (bias not counted)."""
    if in_channels % groups or out_channels % groups:
        raise ValueError("groups must divide both channel counts")
    return int(out_channels * out_height * out_width * (in_channels // groups) * kernel_size * kernel_size)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose argmax equals the label."""
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ValueError("logits must be (N, C) and y (N,)")
    return float((logits.argmax(dim=1) == y).float().mean())
