"""GENERATED from solutions/02_branchynet.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""

import torch
import torch.nn.functional as F
from torch import nn

import course_lib as cl


# cell 02-08
class ExitHead(nn.Module):
    """Exit head: conv3x3 stride 2 (no bias) -> BatchNorm -> ReLU -> adaptive average pool to a
    pool_size x pool_size grid -> flatten (channel-major) -> linear.

    Args:
        in_channels: channels of the feature map the head reads.
        num_classes: number of classes (logits).
        hidden_channels: channels of the head's conv.
        pool_size: side of the pooled grid; the linear layer reads hidden_channels * pool_size**2 features.
    forward(h): h of shape (N, in_channels, H, W) -> logits (N, num_classes).
    """

    def __init__(
        self, in_channels: int, num_classes: int, hidden_channels: int = 32, pool_size: int = 2
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("hidden_channels", hidden_channels),
            ("pool_size", pool_size),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        self.in_channels = in_channels
        self.conv = nn.Conv2d(
            in_channels, hidden_channels, kernel_size=3, stride=2, padding=1, bias=False
        )
        self.bn = nn.BatchNorm2d(hidden_channels)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Linear(hidden_channels * pool_size * pool_size, num_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not isinstance(h, torch.Tensor) or h.ndim != 4 or h.shape[1] != self.in_channels:
            got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            raise ValueError(f"h should have shape (N, {self.in_channels}, H, W), got {got}.")
        z = F.relu(self.bn(self.conv(h)))
        return self.fc(torch.flatten(self.pool(z), 1))


# cell 02-11
class BranchyResNet(nn.Module):
    """A fresh course_lib ResNet with an ExitHead after every stage but the last (the last exit is its classifier).

    forward(x): x (N, in_channels, H, W) -> list of exit logits, shallow to deep, each (N, num_classes).
    Attributes: stem, stages (from the ResNet) and exits (nn.ModuleList: ExitHeads, then the classifier).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        head_channels: int = 32,
        base_width: int = 16,
        blocks_per_stage: tuple = (1, 1, 1),
        stage_strides: tuple = (2, 2, 2),
    ) -> None:
        super().__init__()
        backbone = cl.models.ResNet(
            num_classes, in_channels, base_width, blocks_per_stage, stage_strides
        )
        self.in_channels, self.num_classes, self.widths = in_channels, num_classes, backbone.widths
        self.stem, self.stages = backbone.stem, backbone.stages
        heads = [ExitHead(width, num_classes, head_channels) for width in self.widths[:-1]]
        self.exits = nn.ModuleList(heads + [backbone.classifier])

    def forward(self, x: torch.Tensor) -> list:
        cl.models.check_input(x, self.in_channels, "BranchyResNet")
        h = self.stem(x)
        exit_logits = []
        for stage, head in zip(self.stages, self.exits):
            h = stage(h)
            exit_logits.append(head(h))
        return exit_logits


# cell 02-14
def weighted_exit_loss(exit_logits: list, y: torch.Tensor, weights) -> torch.Tensor:
    """Weighted sum over exits of the batch-mean cross-entropy.

    Args:
        exit_logits: list of N_exits tensors, each (N, C), shallow to deep.
        y: labels (N,), int64.
        weights: N_exits numbers; weights[n] multiplies the loss of exit n.
    Returns:
        A 0-dim tensor, differentiable with respect to every exit's logits.
    """
    if not isinstance(exit_logits, (list, tuple)) or len(exit_logits) == 0:
        raise ValueError("exit_logits should be a non-empty list of (N, C) tensors.")
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        raise ValueError(
            f"y should have shape (N,), got {tuple(y.shape) if isinstance(y, torch.Tensor) else y!r}."
        )
    if len(weights) != len(exit_logits):
        raise ValueError(
            f"weights should have one entry per exit ({len(exit_logits)}), got {len(weights)}."
        )
    total = 0.0
    for n, (logits, w) in enumerate(zip(exit_logits, weights)):
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != len(y):
            raise ValueError(
                f"exit_logits[{n}] should have shape ({len(y)}, C), got "
                f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}."
            )
        total = total + float(w) * F.cross_entropy(logits, y)
    return total


# cell 02-17
def train_early_exit(
    model: nn.Module,
    baseline: nn.Module,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs: int,
    lr: float,
    optimizer: str = "sgd",
    augment="shift",
    val_loader=None,
    config=None,
    verbose: bool = True,
):
    """Initialise `model` from a copy of `baseline`'s weights, then train it jointly on all exits.

    Args:
        model: a fresh early-exit model with .stem, .stages, .exits (exits[-1] matches baseline.classifier).
        baseline: the trained cl.models.ResNet; must stay untouched.
        train_loader: DataLoader of (X, y) batches.
        weights: one weight per exit, passed to loss_fn.
        loss_fn: callable (exit_logits, y, weights) -> scalar tensor.
        num_epochs, lr, optimizer, augment, val_loader, config, verbose: passed on to cl.training.fit.
    Returns:
        (model, history) with history as returned by cl.training.fit.
    """
    if model is baseline:
        raise ValueError("model is the baseline object itself: build a fresh early-exit model.")
    for attr in ("stem", "stages", "exits"):
        if not hasattr(model, attr):
            raise TypeError(f"model needs .stem, .stages and .exits; it has no .{attr}.")
    baseline_storage = {
        t.data_ptr() for t in list(baseline.parameters()) + list(baseline.buffers()) if t.numel()
    }
    if any(
        t.data_ptr() in baseline_storage
        for t in list(model.parameters()) + list(model.buffers())
        if t.numel()
    ):
        raise ValueError(
            "model shares parameter storage with the baseline: copy weights, do not share modules."
        )
    if len(weights) != len(model.exits):
        raise ValueError(
            f"weights should have one entry per exit ({len(model.exits)}), got {len(weights)}."
        )
    model.stem.load_state_dict(baseline.stem.state_dict())
    model.stages.load_state_dict(baseline.stages.state_dict())
    model.exits[-1].load_state_dict(baseline.classifier.state_dict())
    weights = [float(w) for w in weights]
    history = cl.training.fit(
        model,
        train_loader,
        num_epochs=num_epochs,
        lr=lr,
        optimizer=optimizer,
        augment=augment,
        loss_fn=lambda output, y: loss_fn(output, y, weights),
        val_loader=val_loader,
        config=config,
        desc="early-exit",
        verbose=verbose,
    )
    return model, history


# cell 02-23
def per_exit_accuracy(model: nn.Module, loader) -> list:
    """Accuracy of every exit of `model` on `loader`, in eval mode; the model's train/eval mode is restored.

    Args:
        model: returns a list of exit logits (N, C) (a plain tensor counts as one exit).
        loader: iterable of (X, y) batches.
    Returns:
        list of floats in [0, 1], one per exit.
    """
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    correct, seen = None, 0
    try:
        with torch.no_grad():
            for X, y in loader:
                outputs = model(X.to(device))
                outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
                hits = torch.stack([(logits.argmax(1).cpu() == y).sum() for logits in outputs])
                correct = hits if correct is None else correct + hits
                seen += len(y)
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("loader yielded no samples.")
    return [float(c) / seen for c in correct]


# cell 02-26
def per_exit_costs(model: nn.Module, input_shape) -> list:
    """Cumulative MACs of leaving at each exit: stem + stages 1..k + exit heads 1..k, for one image.

    Args:
        model: early-exit model with .stem, .stages and .exits.
        input_shape: (C, H, W) of one image.
    Returns:
        list of ints, one per exit, increasing.
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape should be one image's (C, H, W), got {input_shape!r}.")
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
