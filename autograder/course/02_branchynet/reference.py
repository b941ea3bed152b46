"""Reference implementations of the graded functions of notebook 02_branchynet (instructor only)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

import course_lib as cl


class ExitHead(nn.Module):
    """Exit head: conv3x3 stride 2 (in -> hidden, no bias) -> BatchNorm -> ReLU -> adaptive average pool to
    pool_size x pool_size -> flatten (channel-major) -> linear(hidden * pool_size**2 -> num_classes).

    Input (N, in_channels, H, W), output logits (N, num_classes). The pooled grid keeps a coarse layout of
    where features fired (a global pool would keep only how strongly), as BranchyNet's conv + FC branches do.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int = 32, pool_size: int = 2) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("hidden_channels", hidden_channels), ("pool_size", pool_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.hidden_channels, self.pool_size = hidden_channels, pool_size
        self.conv = nn.Conv2d(in_channels, hidden_channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(hidden_channels)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Linear(hidden_channels * pool_size * pool_size, num_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not isinstance(h, torch.Tensor) or h.ndim != 4 or h.shape[1] != self.in_channels:
            shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            raise ValueError(f"h should have shape (N, {self.in_channels}, H, W), got {shape}.")
        z = F.relu(self.bn(self.conv(h)))
        return self.fc(torch.flatten(self.pool(z), 1))


class BranchyResNet(nn.Module):
    """A fresh course_lib ResNet with an ExitHead after every stage but the last.

    The last exit is the backbone's own classifier. forward(x) returns a list of exit logits,
    shallow to deep, each (N, num_classes). Attributes: stem, stages, exits (an nn.ModuleList).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, head_channels: int = 32,
                 base_width: int = 16, blocks_per_stage: tuple[int, ...] = (1, 1, 1),
                 stage_strides: tuple[int, ...] = (2, 2, 2)) -> None:
        super().__init__()
        backbone = cl.models.ResNet(num_classes, in_channels, base_width, blocks_per_stage, stage_strides)
        self.in_channels, self.num_classes, self.widths = in_channels, num_classes, backbone.widths
        self.stem, self.stages = backbone.stem, backbone.stages
        heads = [ExitHead(width, num_classes, head_channels) for width in self.widths[:-1]]
        self.exits = nn.ModuleList(heads + [backbone.classifier])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        cl.models.check_input(x, self.in_channels, "BranchyResNet")
        h = self.stem(x)
        exit_logits = []
        for stage, head in zip(self.stages, self.exits):
            h = stage(h)
            exit_logits.append(head(h))
        return exit_logits


def weighted_exit_loss(exit_logits: Sequence[torch.Tensor], y: torch.Tensor,
                       weights: Sequence[float]) -> torch.Tensor:
    """sum_n weights[n] * CE(exit_logits[n], y), CE averaged over the batch; a scalar tensor."""
    if not isinstance(exit_logits, (list, tuple)) or len(exit_logits) == 0:
        raise ValueError("exit_logits should be a non-empty list of (N, C) tensors.")
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        raise ValueError(f"y should be a tensor of shape (N,), got "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}.")
    if len(weights) != len(exit_logits):
        raise ValueError(f"weights should have one entry per exit ({len(exit_logits)}), got {len(weights)}.")
    total = None
    for n, (logits, w) in enumerate(zip(exit_logits, weights)):
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != y.shape[0]:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"exit_logits[{n}] should have shape ({y.shape[0]}, C), got {shape}.")
        term = float(w) * F.cross_entropy(logits, y)
        total = term if total is None else total + term
    return total


def _shares_storage(a: nn.Module, b: nn.Module) -> bool:
    pointers = {t.data_ptr() for t in list(b.parameters()) + list(b.buffers()) if t.numel()}
    return any(t.data_ptr() in pointers for t in list(a.parameters()) + list(a.buffers()) if t.numel())


def train_early_exit(model: nn.Module, baseline: nn.Module, train_loader: Any, *, weights: Sequence[float],
                     loss_fn: Callable, num_epochs: int, lr: float, optimizer: str = "sgd",
                     augment: str | None = "shift", val_loader: Any = None, config: dict | None = None,
                     verbose: bool = True) -> tuple[nn.Module, list[dict]]:
    """Copy the baseline's weights into `model`'s backbone, then train `model` jointly; baseline untouched."""
    if model is baseline:
        raise ValueError("model is the baseline object itself: build a fresh early-exit model.")
    for attr in ("stem", "stages", "exits"):
        if not hasattr(model, attr):
            raise TypeError(f"model needs .stem, .stages and .exits (an early-exit model); it has no .{attr}.")
    if _shares_storage(model, baseline):
        raise ValueError("model shares parameter storage with the baseline: copy weights, do not share modules.")
    if len(weights) != len(model.exits):
        raise ValueError(f"weights should have one entry per exit ({len(model.exits)}), got {len(weights)}.")
    model.stem.load_state_dict(baseline.stem.state_dict())
    model.stages.load_state_dict(baseline.stages.state_dict())
    model.exits[-1].load_state_dict(baseline.classifier.state_dict())
    weights = [float(w) for w in weights]
    history = cl.training.fit(model, train_loader, num_epochs=num_epochs, lr=lr,
                              loss_fn=lambda out, y: loss_fn(out, y, weights), optimizer=optimizer,
                              augment=augment, val_loader=val_loader, config=config, desc="early-exit",
                              verbose=verbose)
    return model, history


@torch.no_grad()
def per_exit_accuracy(model: nn.Module, loader: Any) -> list[float]:
    """Accuracy of every exit on `loader`, in eval mode (the model's mode is restored afterwards)."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        correct, seen = None, 0
        for X, y in loader:
            outputs = model(X.to(device))
            outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            hits = torch.stack([(o.argmax(1).cpu() == y).sum() for o in outputs])
            correct = hits if correct is None else correct + hits
            seen += len(y)
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("loader yielded no samples.")
    return [float(c) / seen for c in correct]


def per_exit_costs(model: nn.Module, input_shape: Sequence[int]) -> list[int]:
    """Cumulative MACs of leaving at each exit: stem + stages 1..k + every exit head 1..k (batch 1)."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape should be one image's (C, H, W), got {input_shape!r}.")
    for attr in ("stem", "stages", "exits"):
        if not hasattr(model, attr):
            raise TypeError(f"model needs .stem, .stages and .exits; it has no .{attr}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            h = torch.zeros(1, *input_shape, device=device)
            running = cl.cost.module_macs(model.stem, h)
            h = model.stem(h)
            costs = []
            for stage, head in zip(model.stages, model.exits):
                running += cl.cost.module_macs(stage, h)
                h = stage(h)
                running += cl.cost.module_macs(head, h)
                costs.append(int(running))
    finally:
        model.train(was_training)
    return costs
