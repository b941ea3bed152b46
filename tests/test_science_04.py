"""Notebook 04's cost accounting (issue 18, review A2): `cl.cost.gated_block_costs` splits a gated ResNet into what
every sample pays (stem, classifier, projection shortcuts, gates) and what it pays only when a block runs (the
residual body). Checked against torchprofile's count of a network whose gates are forced closed or open."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import course_lib as cl


class _Gate(nn.Module):
    """A counted gate (pool + linear) whose decision is forced: every sample open or every sample closed."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


class _GatedBlock(nn.Module):
    """Real skipping as notebook 04 teaches it: the shortcut for every sample, the body only for open ones."""

    def __init__(self, block: cl.models.BasicBlock, is_open: bool) -> None:
        super().__init__()
        self.block, self.gate, self.is_open = block, _Gate(block.in_channels), is_open

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.gate(x)  # paid by every sample
        out = self.block.shortcut(x)
        if self.is_open:
            out = out + self.block.residual(x) + 0 * logits.sum()
        return F.relu(out + 0 * logits.sum())


class _GatedNet(nn.Module):
    def __init__(self, base: cl.models.ResNet, is_open: bool) -> None:
        super().__init__()
        self.stem, self.classifier = base.stem, base.classifier
        self.blocks = nn.ModuleList(_GatedBlock(b, is_open) for b in base.blocks())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.classifier(h)


ARCHS = [
    {"base_width": 8, "blocks_per_stage": (2, 2, 2), "stage_strides": (2, 2, 2)},
    {"base_width": 4, "blocks_per_stage": (1, 2, 1), "stage_strides": (1, 2, 2)},
]


@pytest.mark.parametrize("arch", ARCHS)
def test_all_closed_costs_stem_shortcuts_gates_classifier(arch: dict) -> None:
    torch.manual_seed(0)
    base = cl.models.ResNet(10, 1, **arch)
    shape = (1, 20, 20)
    closed = _GatedNet(base, is_open=False).eval()
    parts = cl.cost.gated_block_costs(closed, shape)
    x = torch.zeros(1, *shape)
    traced = cl.cost.module_macs(closed, x)
    assert sum(parts["shortcuts"]) > 0, "the architecture should have projection shortcuts"
    assert parts["always"] == parts["stem"] + parts["classifier"] + sum(parts["shortcuts"])
    assert traced == parts["always"] + sum(parts["gates"])
    assert traced == parts["stem"] + sum(parts["shortcuts"]) + sum(parts["gates"]) + parts["classifier"]


@pytest.mark.parametrize("arch", ARCHS)
def test_all_open_costs_ungated_plus_gates(arch: dict) -> None:
    torch.manual_seed(0)
    base = cl.models.ResNet(10, 1, **arch)
    shape = (1, 20, 20)
    opened = _GatedNet(base, is_open=True).eval()
    parts = cl.cost.gated_block_costs(opened, shape)
    ungated = cl.cost.module_macs(base, torch.zeros(1, *shape))
    assert cl.cost.module_macs(opened, torch.zeros(1, *shape)) == ungated + sum(parts["gates"])
    assert parts["always"] + sum(parts["residuals"]) == ungated


def test_plain_resnet_has_no_gates_and_matches_block_costs() -> None:
    base = cl.models.ResNet(10, 1, **ARCHS[0])
    parts = cl.cost.gated_block_costs(base, (1, 28, 28))
    old = cl.cost.block_costs(base, (1, 28, 28))
    assert parts["gates"] == [0] * len(base.blocks())
    assert [r + s for r, s in zip(parts["residuals"], parts["shortcuts"], strict=True)] == old["blocks"]
    assert parts["stem"] == old["stem"] and parts["classifier"] == sum(old["heads"])
    identity = [isinstance(b.shortcut, nn.Identity) for b in base.blocks()]
    assert [s == 0 for s in parts["shortcuts"]] == identity
