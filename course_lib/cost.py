"""Cost accounting in MACs (multiply-accumulates), one convention for the whole course.

Convention: we count the MACs of convolutions and linear layers only; BatchNorm, pooling,
activations and additions count zero. Costs are measured once per static sub-model at batch 1
with torchprofile and combined analytically: the cost of leaving at exit k is the backbone up to
stage k plus every exit head 1..k, because a sample that passed an exit paid for its head.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "COUNTED_OPS",
    "module_macs",
    "exit_costs",
    "block_costs",
    "expected_cost",
    "format_macs",
]

# Operators whose MACs count under the course convention (conv and linear type ops).
COUNTED_OPS = frozenset({
    "aten::_convolution", "aten::convolution", "aten::conv1d", "aten::conv2d", "aten::conv3d",
    "aten::linear", "aten::addmm", "aten::mm", "aten::matmul", "aten::bmm", "aten::baddbmm", "aten::addmv",
})


def module_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of conv/linear ops in one forward of `module` on `inputs` (use batch 1; scales with batch)."""
    import warnings

    from torchprofile import profile_macs

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_node = profile_macs(module, inputs if len(inputs) != 1 else inputs[0], reduction=None)
    finally:
        module.train(was_training)
    return int(sum(macs for node, macs in per_node.items() if getattr(node, "operator", "") in COUNTED_OPS))


class _ExitPath(nn.Module):
    """Static sub-model: stem, stages up to `k`, and exit heads 0..k; returns every head's logits."""

    def __init__(self, model: nn.Module, k: int) -> None:
        super().__init__()
        self.model, self.k = model, k

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.model.stem(x)
        outputs = []
        for stage, head in list(zip(self.model.stages, self.model.exits))[: self.k + 1]:
            h = stage(h)
            outputs.append(head(h))  # returned, so tracing cannot drop the heads as dead code
        return tuple(outputs)


def _example(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    if len(input_shape) != 3:
        raise ValueError(f"input_shape is one image's (C, H, W), got {tuple(input_shape)}.")
    device = next(model.parameters()).device
    return torch.zeros(1, *input_shape, device=device)


def exit_costs(model: nn.Module, input_shape: Sequence[int]) -> list[int]:
    """Cumulative MACs of leaving at each exit: backbone up to that stage plus all heads passed."""
    for attr in ("stem", "stages", "exits"):
        if not hasattr(model, attr):
            raise TypeError(f"exit_costs needs a model with .stem, .stages and .exits "
                            f"(like course_lib.models.EarlyExitResNet); {type(model).__name__} has no .{attr}.")
    x = _example(model, input_shape)
    return [module_macs(_ExitPath(model, k), x) for k in range(len(model.exits))]


def block_costs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, list[int] | int]:
    """MACs of the stem, each residual block (in order) and each exit/classifier head, at batch 1."""
    x = _example(model, input_shape)
    costs: dict[str, list[int] | int] = {"stem": 0, "blocks": [], "heads": []}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        costs["stem"] = module_macs(model.stem, x)
        h = model.stem(x)
        heads = list(getattr(model, "exits", [])) or [getattr(model, "classifier")]
        for s, stage in enumerate(model.stages):
            for block in stage:
                costs["blocks"].append(module_macs(block, h))  # type: ignore[union-attr]
                h = block(h)
            if hasattr(model, "exits"):
                costs["heads"].append(module_macs(model.exits[s], h))  # type: ignore[union-attr]
        if not hasattr(model, "exits"):
            costs["heads"].append(module_macs(heads[0], h))  # type: ignore[union-attr]
    model.train(was_training)
    return costs


def expected_cost(exit_fractions: Sequence[float], costs: Sequence[float]) -> float:
    """Expected MACs per sample: sum_k (fraction leaving at exit k) * (cost of exit k)."""
    fractions = np.asarray(exit_fractions, dtype=float)
    costs_arr = np.asarray(costs, dtype=float)
    if fractions.shape != costs_arr.shape or fractions.ndim != 1:
        raise ValueError(f"need one fraction per exit cost; got {fractions.shape} fractions and "
                         f"{costs_arr.shape} costs.")
    if (fractions < 0).any() or abs(fractions.sum() - 1.0) > 1e-6:
        raise ValueError(f"exit fractions must be non-negative and sum to 1, got sum {fractions.sum():.6f}.")
    return float(fractions @ costs_arr)


def format_macs(macs: float) -> str:
    """Human-readable MACs, e.g. 1.23M."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(macs) >= scale:
            return f"{macs / scale:.2f}{unit}"
    return f"{macs:.0f}"
