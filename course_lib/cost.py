"""Cost accounting in MACs (multiply-accumulates), one convention for the whole course.

Convention: we count the MACs of convolutions and linear layers only; BatchNorm, pooling,
activations and additions count zero. Costs are measured once per static sub-model at batch 1
with torchprofile and combined analytically: the cost of leaving at exit k is the backbone up to
stage k plus every exit head 1..k, because a sample that passed an exit paid for its head.

Nothing here answers a graded exercise: `exit_costs` (and its sub-models) measure course_lib's own
`EarlyExitResNet` with its own PoolLinearHead exits only, while notebook 02's `per_exit_costs` works for any
network with `.stem`, `.stages` and `.exits`, and notebook 03's `expected_cost` (the mean cost over each sample's
exit) is not in the library at all. `module_macs` and `block_costs` are measuring tools of 00_orientation: using
them inside `per_exit_costs` is fine (the exercise is which parts a sample leaving at exit k has paid for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from course_lib.models import EarlyExitResNet, check_library_exits

__all__ = [
    "COUNTED_OPS",
    "module_macs",
    "exit_costs",
    "block_costs",
    "gated_block_costs",
    "format_macs",
]

# Operators whose MACs count under the course convention (conv and linear type ops).
COUNTED_OPS = frozenset(
    {
        "aten::_convolution",
        "aten::convolution",
        "aten::conv1d",
        "aten::conv2d",
        "aten::conv3d",
        "aten::linear",
        "aten::addmm",
        "aten::mm",
        "aten::matmul",
        "aten::bmm",
        "aten::baddbmm",
        "aten::addmv",
    }
)


def module_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of conv/linear ops in one forward of `module` on `inputs` (use batch 1; scales with batch).

    Introduced in 00_orientation.
    """
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
    by_node: dict[Any, int] = cast(dict[Any, int], per_node)  # reduction=None: MACs per traced node
    return int(sum(macs for node, macs in by_node.items() if getattr(node, "operator", "") in COUNTED_OPS))


class _ExitPath(nn.Module):
    """Static sub-model: stem, stages up to `k`, and exit heads 0..k; returns every head's logits."""

    def __init__(self, model: EarlyExitResNet, k: int) -> None:
        super().__init__()
        _check_measurable(model)
        self.model, self.k = model, k

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.model.stem(x)
        outputs = []
        for stage, head in list(zip(self.model.stages, self.model.exits, strict=True))[: self.k + 1]:
            h = stage(h)
            outputs.append(head(h))  # returned, so tracing cannot drop the heads as dead code
        return tuple(outputs)


def _check_measurable(model: nn.Module) -> None:
    """exit_costs (and its sub-models) measure course_lib's EarlyExitResNet with its own PoolLinearHead exits."""
    check_library_exits(
        model,
        "exit_costs",
        "for another network add up cl.cost.module_macs of its stem, stages and heads (notebook 02's per_exit_costs)",
    )


def _example(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    if len(input_shape) != 3:
        raise ValueError(f"input_shape is one image's (C, H, W), got {tuple(input_shape)}.")
    device = next(model.parameters()).device
    return torch.zeros(1, *input_shape, device=device)


def exit_costs(model: EarlyExitResNet, input_shape: Sequence[int]) -> list[int]:
    """Cumulative MACs of leaving at each exit of a course_lib EarlyExitResNet: backbone up to that stage plus all
    heads passed.

    Introduced in 02_branchynet, for the later notebooks' EarlyExitResNet only: notebook 02's `per_exit_costs`
    is the general version, for any network with `.stem`, `.stages` and `.exits`.
    """
    _check_measurable(model)
    x = _example(model, input_shape)
    return [module_macs(_ExitPath(model, k), x) for k in range(len(model.exits))]


def block_costs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, list[int] | int]:
    """MACs of the stem, each residual block (in order) and each exit/classifier head, at batch 1.

    Introduced in 00_orientation.
    """
    x = _example(model, input_shape)
    net: Any = model  # a ResNet (classifier) or an early-exit network (exits): both have stem and stages
    blocks: list[int] = []
    heads: list[int] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        stem = module_macs(net.stem, x)
        h = net.stem(x)
        exits = list(getattr(net, "exits", []))
        for s, stage in enumerate(net.stages):
            for block in stage:
                blocks.append(module_macs(block, h))
                h = block(h)
            if exits:
                heads.append(module_macs(exits[s], h))
        if not exits:
            heads.append(module_macs(net.classifier, h))
    model.train(was_training)
    return {"stem": stem, "blocks": blocks, "heads": heads}


def gated_block_costs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, Any]:
    """The parts a gated (or plain) ResNet's cost is made of, measured at batch 1: what every sample pays, and what a
    sample pays only when a block runs.

    `model` has `.stem`, `.classifier` and its residual blocks as `model.blocks()` (a course_lib ResNet) or as a
    `model.blocks` list of modules with `.block` (a BasicBlock) and `.gate` (notebook 04's GatedBlock). Returns
    "stem", "classifier", per block "shortcuts" (the projection shortcut: 0 for an identity), "residuals" (the
    block body, paid only when the block runs) and "gates" (0 for an ungated block), and "always" = stem +
    classifier + every shortcut: a skipped block still computes its shortcut for the sample, so it is not skipped
    work. Gates are listed apart (every sample pays them too); how the parts combine with execution rates is the
    caller's.

    Introduced in 04_layer_skipping.
    """
    x = _example(model, input_shape)
    net: Any = model
    items = net.blocks() if callable(net.blocks) and not isinstance(net.blocks, nn.Module) else list(net.blocks)
    shortcuts: list[int] = []
    residuals: list[int] = []
    gates: list[int] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            stem = module_macs(net.stem, x)
            h = net.stem(x)
            for item in items:
                block = item.block if hasattr(item, "block") else item
                gate = getattr(item, "gate", None) if hasattr(item, "block") else None
                gates.append(module_macs(gate, h) if gate is not None else 0)
                shortcut = block.shortcut
                shortcuts.append(0 if isinstance(shortcut, nn.Identity) else module_macs(shortcut, h))
                residuals.append(module_macs(block.residual, h))
                h = block(h)
            classifier = module_macs(net.classifier, h)
    finally:
        model.train(was_training)
    return {
        "stem": stem,
        "classifier": classifier,
        "shortcuts": shortcuts,
        "residuals": residuals,
        "gates": gates,
        "always": stem + classifier + sum(shortcuts),
    }


def format_macs(macs: float) -> str:
    """Human-readable MACs, e.g. 1.23M.

    Introduced in 00_orientation.
    """
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(macs) >= scale:
            return f"{macs / scale:.2f}{unit}"
    return f"{macs:.0f}"
