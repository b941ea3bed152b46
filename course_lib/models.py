"""CIFAR-style ResNets: a plain baseline and a variant with an exit head after every stage.

`EarlyExitResNet` is the model of notebooks 03 and 05; its exit heads are fixed (`PoolLinearHead`), so it is not
notebook 02's `BranchyResNet`, which students build themselves around their own `ExitHead`.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BasicBlock",
    "ResNet",
    "PoolLinearHead",
    "EarlyExitResNet",
    "default_arch",
    "check_input",
    "check_library_exits",
]


def check_input(x: torch.Tensor, in_channels: int, name: str = "model") -> None:
    """Raise a clear error unless `x` is a float batch (N, in_channels, H, W).

    Introduced in 00_orientation.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}.")
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(
            f"{name} expects a batch of shape (N, {in_channels}, H, W), got {tuple(x.shape)}. "
            f"A single image needs a batch axis: x.unsqueeze(0)."
        )
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} expects float images, got dtype {x.dtype}; divide uint8 images by 255.")


class BasicBlock(nn.Module):
    """Residual block: out = relu(shortcut(x) + residual(x)), residual = conv-bn-relu-conv-bn.

    Introduced in 00_orientation.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.shortcut = nn.Identity()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) + self.residual(x))


def default_arch(size: str | None = None) -> dict:
    """Architecture keywords for the run size: small (28x28 digits, CPU) or full (CIFAR ResNet-20).

    Introduced in 00_orientation.
    """
    from course_lib.env import run_size

    size = size or run_size()
    if size == "small":
        return {"base_width": 16, "blocks_per_stage": (1, 1, 1), "stage_strides": (2, 2, 2)}
    return {"base_width": 16, "blocks_per_stage": (3, 3, 3), "stage_strides": (1, 2, 2)}


class ResNet(nn.Module):
    """CIFAR-style ResNet: stem conv, three stages of BasicBlocks (widths w, 2w, 4w), GAP + linear.

    `base_width` is the width knob; `stages[s]` is an nn.Sequential of blocks, so code can walk the
    network stage by stage or block by block. `stem_stride=2` makes the stem downsample, so the first
    stage works on half-size maps (cheaper per MAC on a CPU, see notebook 03).

    Introduced in 00_orientation.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        base_width: int = 16,
        blocks_per_stage: tuple[int, ...] = (1, 1, 1),
        stage_strides: tuple[int, ...] = (2, 2, 2),
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        if len(blocks_per_stage) != len(stage_strides):
            raise ValueError("blocks_per_stage and stage_strides need one entry per stage.")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}.")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.widths = tuple(base_width * 2**s for s in range(len(blocks_per_stage)))
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_width, 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(base_width),
            nn.ReLU(inplace=True),
        )
        stages, channels = [], base_width
        for width, num_blocks, stride in zip(self.widths, blocks_per_stage, stage_strides, strict=True):
            blocks = [
                BasicBlock(channels if b == 0 else width, width, stride if b == 0 else 1) for b in range(num_blocks)
            ]
            stages.append(nn.Sequential(*blocks))
            channels = width
        self.stages = nn.ModuleList(stages)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def blocks(self) -> list[BasicBlock]:
        """All residual blocks in execution order."""
        return [cast(BasicBlock, block) for stage in self.stages for block in stage.children()]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, type(self).__name__)
        h = self.stem(x)
        for stage in self.stages:
            h = stage(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


class PoolLinearHead(nn.Module):
    """A light exit head: average-pool to pool_size x pool_size, flatten, one linear layer.

    Introduced in 02_branchynet (the idea of an exit head; notebook 02's graded `ExitHead` is a different,
    conv-based design).
    """

    def __init__(self, in_channels: int, num_classes: int, pool_size: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Linear(in_channels * pool_size * pool_size, num_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(h), 1))


def check_library_exits(
    model: nn.Module,
    name: str = "EarlyExitResNet",
    advice: str = "a network with other exit heads needs its own forward (stem, then each stage and its exit head)",
) -> None:
    """Raise TypeError unless `model` is a course_lib EarlyExitResNet whose side exits are its own PoolLinearHeads.

    The library's early-exit code (EarlyExitResNet.forward, cl.cost.exit_costs) serves the later notebooks'
    fixed network only; a network with other exit heads, such as notebook 02's BranchyResNet, runs and
    measures its exits with its own code (`advice` says how, in the error).

    Introduced in 02_branchynet.
    """
    if not isinstance(model, EarlyExitResNet):
        raise TypeError(f"{name} works on course_lib's EarlyExitResNet only, not {type(model).__name__}: {advice}.")
    for k, head in enumerate(list(model.exits)[:-1]):
        if type(head) is not PoolLinearHead:
            raise TypeError(
                f"{name} works on course_lib's EarlyExitResNet only, with its own PoolLinearHead exits "
                f"(exit {k + 1} is a {type(head).__name__}): {advice}."
            )


class EarlyExitResNet(nn.Module):
    """ResNet with an exit after every stage; the last exit is the usual GAP + linear classifier.

    forward(x) returns a list of exit logits, shallow to deep, each of shape (N, num_classes).
    Attributes `stem`, `stages` and `exits` let inference code run the network one stage at a time. The side
    exits are always `PoolLinearHead`s: the library offers no way to plug in other heads, and forward refuses
    side exits swapped for other modules (a subclass or an instance with other heads writes its own forward).

    Introduced in 02_branchynet, for the later notebooks: notebook 02 has you build its own `BranchyResNet`.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        base_width: int = 16,
        blocks_per_stage: tuple[int, ...] = (1, 1, 1),
        stage_strides: tuple[int, ...] = (2, 2, 2),
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        backbone = ResNet(num_classes, in_channels, base_width, blocks_per_stage, stage_strides, stem_stride)
        self.in_channels, self.num_classes, self.widths = in_channels, num_classes, backbone.widths
        self.stem, self.stages = backbone.stem, backbone.stages
        heads = [PoolLinearHead(width, num_classes) for width in self.widths[:-1]]
        self.exits = nn.ModuleList(heads + [backbone.classifier])

    @property
    def num_exits(self) -> int:
        return len(self.exits)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_input(x, self.in_channels, type(self).__name__)
        check_library_exits(self, "EarlyExitResNet.forward")
        h = self.stem(x)
        exit_logits = []
        for stage, head in zip(self.stages, self.exits, strict=True):
            h = stage(h)
            exit_logits.append(head(h))
        return exit_logits
