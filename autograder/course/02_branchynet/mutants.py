"""Known-wrong implementations for 02_branchynet; each must fail the hidden tests it targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import course_lib as cl
from autograder import content
from autograder.suite import Mutant

ref = content.load("02_branchynet", "reference")
ExitHead = ref.ExitHead  # looked up by name, like a notebook global (the probes swap it)


# ------------------------------------------------------------------------------------ ExitHead


def _check(head, h):
    if h.ndim != 4 or h.shape[1] != head.in_channels:
        raise ValueError("bad shape")


class HeadNoReLU(ref.ExitHead):
    def forward(self, h):
        _check(self, h)
        return self.fc(torch.flatten(self.pool(self.bn(self.conv(h))), 1))


class HeadMaxPool(ref.ExitHead):
    def forward(self, h):
        _check(self, h)
        return self.fc(torch.flatten(F.adaptive_max_pool2d(F.relu(self.bn(self.conv(h))), self.pool_size), 1))


class HeadGlobalPool(nn.Module):
    """The first design of this notebook: a global average pool keeps no spatial layout (exit 1 far below the 2x2 grid: section 5 of the notebook)."""

    def __init__(self, in_channels, num_classes, hidden_channels=32, pool_size=2):
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels, hidden_channels, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(hidden_channels)
        self.fc = nn.Linear(hidden_channels, num_classes)

    def forward(self, h):
        _check(self, h)
        return self.fc(F.relu(self.bn(self.conv(h))).mean(dim=(2, 3)))


class HeadFixedGrid(ref.ExitHead):
    """Always pools to 2x2, whatever pool_size says."""

    def __init__(self, in_channels, num_classes, hidden_channels=32, pool_size=2):
        super().__init__(in_channels, num_classes, hidden_channels, 2)


class HeadChannelsLastFlatten(ref.ExitHead):
    """Flattens the pooled grid position-major (N, p, p, C) instead of channel-major."""

    def forward(self, h):
        _check(self, h)
        z = self.pool(F.relu(self.bn(self.conv(h))))
        return self.fc(torch.flatten(z.permute(0, 2, 3, 1), 1))


class HeadNoBN(nn.Module):
    def __init__(self, in_channels, num_classes, hidden_channels=32, pool_size=2):
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels, hidden_channels, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Linear(hidden_channels * pool_size * pool_size, num_classes)

    def forward(self, h):
        _check(self, h)
        return self.fc(torch.flatten(self.pool(F.relu(self.conv(h))), 1))


class HeadNoPadding(ref.ExitHead):
    def __init__(self, in_channels, num_classes, hidden_channels=32, pool_size=2):
        super().__init__(in_channels, num_classes, hidden_channels, pool_size)
        self.conv = nn.Conv2d(in_channels, hidden_channels, 3, stride=2, padding=0, bias=False)


class HeadStride1(ref.ExitHead):
    def __init__(self, in_channels, num_classes, hidden_channels=32, pool_size=2):
        super().__init__(in_channels, num_classes, hidden_channels, pool_size)
        self.conv = nn.Conv2d(in_channels, hidden_channels, 3, stride=1, padding=1, bias=False)


class HeadNoValidation(ref.ExitHead):
    def forward(self, h):
        if h.ndim == 3:
            h = h.unsqueeze(0)
        return self.fc(torch.flatten(self.pool(F.relu(self.bn(self.conv(h)))), 1))


# ------------------------------------------------------------------------------- BranchyResNet


class BranchyNextStage(ref.BranchyResNet):
    """Each side head reads the output of the following stage (off by one)."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, **arch):
        super().__init__(num_classes, in_channels, head_channels, **arch)
        heads = [ExitHead(w, num_classes, head_channels) for w in self.widths[1:]]
        self.exits = nn.ModuleList(heads + [self.exits[-1]])

    def forward(self, x):
        cl.models.check_input(x, self.in_channels, "BranchyNextStage")
        h = self.stem(x)
        feats = []
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        return [head(f) for head, f in zip(self.exits[:-1], feats[1:])] + [self.exits[-1](feats[-1])]


class BranchyStageInput(ref.BranchyResNet):
    """Each side head reads the stage's input instead of its output."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, **arch):
        super().__init__(num_classes, in_channels, head_channels, **arch)
        widths = [self.stem[0].out_channels] + list(self.widths[:-2])
        heads = [ExitHead(w, num_classes, head_channels) for w in widths]
        self.exits = nn.ModuleList(heads + [self.exits[-1]])

    def forward(self, x):
        cl.models.check_input(x, self.in_channels, "BranchyStageInput")
        h = self.stem(x)
        outs = []
        for k, stage in enumerate(self.stages):
            if k < len(self.stages) - 1:
                outs.append(self.exits[k](h))
            h = stage(h)
        return outs + [self.exits[-1](h)]


class BranchyLightHeads(ref.BranchyResNet):
    """Uses course_lib's PoolLinearHead instead of the ExitHead designed in the exercise."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, **arch):
        super().__init__(num_classes, in_channels, head_channels, **arch)
        heads = [cl.models.PoolLinearHead(w, num_classes) for w in self.widths[:-1]]
        self.exits = nn.ModuleList(heads + [self.exits[-1]])


class BranchyExtraHead(ref.BranchyResNet):
    """Adds a new linear head after the last stage instead of reusing the backbone's classifier."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, **arch):
        super().__init__(num_classes, in_channels, head_channels, **arch)
        heads = [ExitHead(w, num_classes, head_channels) for w in self.widths]
        self.exits = nn.ModuleList(heads)


_SHARED_BACKBONES: dict = {}


class BranchySharedBackbone(ref.BranchyResNet):
    """Reuses one module-level ResNet for every instance (not a fresh backbone)."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, **arch):
        super().__init__(num_classes, in_channels, head_channels, **arch)
        key = (num_classes, in_channels, repr(sorted(arch.items())))
        if key not in _SHARED_BACKBONES:
            _SHARED_BACKBONES[key] = (self.stem, self.stages, self.exits[-1])
        self.stem, self.stages, last = _SHARED_BACKBONES[key]
        self.exits[-1] = last


class BranchyReturnsTuple(ref.BranchyResNet):
    def forward(self, x):
        return tuple(super().forward(x))


class BranchyNoValidation(ref.BranchyResNet):
    def forward(self, x):
        h = self.stem(x)
        outs = []
        for stage, head in zip(self.stages, self.exits):
            h = stage(h)
            outs.append(head(h))
        return outs


class BranchyNoAttributes(nn.Module):
    """Hides the backbone in a .net attribute: block_costs cannot walk it."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, **arch):
        super().__init__()
        self.net = ref.BranchyResNet(num_classes, in_channels, head_channels, **arch)

    def forward(self, x):
        return self.net(x)


# -------------------------------------------------------------------------- weighted_exit_loss


def loss_unweighted(exit_logits, y, weights):
    return ref.weighted_exit_loss(exit_logits, y, [1.0] * len(exit_logits))


def loss_reversed_weights(exit_logits, y, weights):
    return ref.weighted_exit_loss(exit_logits, y, list(weights)[::-1])


def loss_sum_over_batch(exit_logits, y, weights):
    ref.weighted_exit_loss(exit_logits, y, weights)
    return sum(w * F.cross_entropy(o, y, reduction="sum") for o, w in zip(exit_logits, weights))


def loss_mean_over_exits(exit_logits, y, weights):
    return ref.weighted_exit_loss(exit_logits, y, weights) / len(exit_logits)


def loss_normalised_weights(exit_logits, y, weights):
    total = float(sum(weights)) or 1.0
    return ref.weighted_exit_loss(exit_logits, y, [w / total for w in weights])


def loss_detached(exit_logits, y, weights):
    return torch.tensor(float(ref.weighted_exit_loss(exit_logits, y, weights)))


def loss_no_validation(exit_logits, y, weights):
    return sum(w * F.cross_entropy(o.reshape(len(o), -1)[: len(y)], y[: len(o)]) for o, w in zip(exit_logits, weights))


# ---------------------------------------------------------------------------- train_early_exit


def _fit(model, loader, weights, loss_fn, num_epochs, lr, val_loader, config, verbose, augment="shift"):
    weights = [float(w) for w in weights]
    return cl.training.fit(
        model,
        loader,
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=lambda out, y: loss_fn(out, y, weights),
        val_loader=val_loader,
        config=config,
        verbose=verbose,
        augment=augment,
    )


def train_shares_modules(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    """Attaches the baseline's own modules (alias): training the model also trains the baseline."""
    if model is baseline:
        raise ValueError("same object")
    model.stem, model.stages = baseline.stem, baseline.stages
    model.exits[-1] = baseline.classifier
    return model, _fit(model, train_loader, weights, loss_fn, num_epochs, lr, val_loader, config, verbose)


def train_the_baseline(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    """Builds the early-exit model on the baseline object itself and returns it."""
    if model is baseline:
        raise ValueError("same object")
    baseline.exits = nn.ModuleList(list(model.exits[:-1]) + [baseline.classifier])
    history = _fit(baseline, train_loader, weights, loss_fn, num_epochs, lr, val_loader, config, verbose, augment)
    return baseline, history


def train_no_alias_check(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    model.stem.load_state_dict(baseline.stem.state_dict())
    model.stages.load_state_dict(baseline.stages.state_dict())
    model.exits[-1].load_state_dict(baseline.classifier.state_dict())
    return model, _fit(model, train_loader, weights, loss_fn, num_epochs, lr, val_loader, config, verbose)


def train_from_scratch(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    if model is baseline:
        raise ValueError("same object")
    return model, _fit(model, train_loader, weights, loss_fn, num_epochs, lr, val_loader, config, verbose)


def train_copies_stem_only(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    if model is baseline:
        raise ValueError("same object")
    model.stem.load_state_dict(baseline.stem.state_dict())
    return model, _fit(model, train_loader, weights, loss_fn, num_epochs, lr, val_loader, config, verbose)


def train_ignores_weights(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    return ref.train_early_exit(
        model,
        baseline,
        train_loader,
        weights=[1.0] * len(weights),
        loss_fn=loss_fn,
        num_epochs=num_epochs,
        lr=lr,
        optimizer=optimizer,
        augment=augment,
        val_loader=val_loader,
        config=config,
        verbose=verbose,
    )


def train_final_exit_only(
    model,
    baseline,
    train_loader,
    *,
    weights,
    loss_fn,
    num_epochs,
    lr,
    val_loader=None,
    config=None,
    verbose=True,
    optimizer="sgd",
    augment="shift",
):
    """Trains on the last exit's logits only (the side heads never learn)."""
    if model is baseline:
        raise ValueError("same object")
    model.stem.load_state_dict(baseline.stem.state_dict())
    model.stages.load_state_dict(baseline.stages.state_dict())
    model.exits[-1].load_state_dict(baseline.classifier.state_dict())
    w = [float(weights[-1])]
    history = cl.training.fit(
        model,
        train_loader,
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=lambda out, y: loss_fn([out[-1]], y, w),
        val_loader=val_loader,
        config=config,
        verbose=verbose,
        augment=augment,
    )
    return model, history


def _train_frozen(model, baseline, train_loader, frozen, **kwargs):
    """The reference's copy and checks, then fit with the parameters of `frozen` modules switched off."""
    if model is baseline:
        raise ValueError("same object")
    model.stem.load_state_dict(baseline.stem.state_dict())
    model.stages.load_state_dict(baseline.stages.state_dict())
    model.exits[-1].load_state_dict(baseline.classifier.state_dict())
    for module in frozen(model):
        for p in module.parameters():
            p.requires_grad_(False)
    weights = [float(w) for w in kwargs["weights"]]
    loss_fn = kwargs["loss_fn"]
    history = cl.training.fit(
        model,
        train_loader,
        num_epochs=kwargs["num_epochs"],
        lr=kwargs["lr"],
        loss_fn=lambda out, y: loss_fn(out, y, weights),
        val_loader=kwargs.get("val_loader"),
        config=kwargs.get("config"),
        verbose=kwargs.get("verbose", True),
        augment=kwargs.get("augment", "shift"),
    )
    return model, history


def train_frozen_backbone(model, baseline, train_loader, **kwargs):
    """IC-only training (SDN's other mode): the copied backbone and final classifier are frozen, only the side
    heads learn. The loss still sees every exit with its weight, and the model still changes."""
    return _train_frozen(model, baseline, train_loader, lambda m: [m.stem, m.stages, m.exits[-1]], **kwargs)


def train_frozen_side_heads(model, baseline, train_loader, **kwargs):
    """Only the backbone and the final exit learn; the side heads are frozen at their fresh initialisation."""
    return _train_frozen(model, baseline, train_loader, lambda m: list(m.exits)[:-1], **kwargs)


def train_frozen_stem(model, baseline, train_loader, **kwargs):
    """Freezes the stem and the first stage (a common "keep the low-level features" shortcut)."""
    return _train_frozen(model, baseline, train_loader, lambda m: [m.stem, m.stages[0]], **kwargs)


# --------------------------------------------------------------------------- per_exit_accuracy


@torch.no_grad()
def accuracy_train_mode(model, loader):
    was = model.training
    model.train()
    correct, seen = None, 0
    for X, y in loader:
        hits = torch.stack([(o.argmax(1) == y).sum() for o in model(X)])
        correct = hits if correct is None else correct + hits
        seen += len(y)
    model.train(was)
    return [float(c) / seen for c in correct]


def accuracy_no_restore(model, loader):
    result = ref.per_exit_accuracy(model, loader)
    model.eval()
    return result


def accuracy_always_train_after(model, loader):
    result = ref.per_exit_accuracy(model, loader)
    model.train()
    return result


@torch.no_grad()
def accuracy_mean_of_batches(model, loader):
    was = model.training
    model.eval()
    per_batch = []
    for X, y in loader:
        per_batch.append(torch.stack([(o.argmax(1) == y).float().mean() for o in model(X)]))
    model.train(was)
    return torch.stack(per_batch).mean(0).tolist()


# ------------------------------------------------------------------------------ per_exit_costs


def costs_without_heads(model, input_shape):
    if len(input_shape) != 3:
        raise ValueError("bad shape")
    x = torch.zeros(1, *input_shape)
    running, costs = cl.cost.module_macs(model.stem, x), []
    h = model.stem(x)
    for k, stage in enumerate(model.stages):
        running += cl.cost.module_macs(stage, h)
        h = stage(h)
        costs.append(running + (cl.cost.module_macs(model.exits[k], h) if k == len(model.stages) - 1 else 0))
    return costs


def costs_current_head_only(model, input_shape):
    if len(input_shape) != 3:
        raise ValueError("bad shape")
    x = torch.zeros(1, *input_shape)
    running, costs = cl.cost.module_macs(model.stem, x), []
    h = model.stem(x)
    for stage, head in zip(model.stages, model.exits):
        running += cl.cost.module_macs(stage, h)
        h = stage(h)
        costs.append(running + cl.cost.module_macs(head, h))
    return costs


def costs_not_cumulative(model, input_shape):
    if len(input_shape) != 3:
        raise ValueError("bad shape")
    x = torch.zeros(1, *input_shape)
    h, costs = model.stem(x), []
    for stage, head in zip(model.stages, model.exits):
        segment = cl.cost.module_macs(stage, h)
        h = stage(h)
        costs.append(segment + cl.cost.module_macs(head, h))
    return costs


def costs_batch_of_two(model, input_shape):
    if len(input_shape) != 3:
        raise ValueError("bad shape")
    x = torch.zeros(2, *input_shape)
    running, costs = cl.cost.module_macs(model.stem, x), []
    h = model.stem(x)
    for stage, head in zip(model.stages, model.exits):
        running += cl.cost.module_macs(stage, h) + cl.cost.module_macs(head, stage(h))
        h = stage(h)
        costs.append(running)
    return costs


def costs_no_validation(model, input_shape):
    shape = tuple(input_shape)[-3:] if len(input_shape) >= 3 else (1, *input_shape)
    return ref.per_exit_costs(model, shape)


def costs_from_library(model, input_shape):
    return cl.cost.exit_costs(model, input_shape)


MUTANTS = [
    # ExitHead
    Mutant("head without ReLU", ("exit_head_forward",), {"ExitHead": HeadNoReLU}),
    Mutant("head with max pooling", ("exit_head_forward",), {"ExitHead": HeadMaxPool}),
    Mutant("head without BatchNorm", ("exit_head_layers",), {"ExitHead": HeadNoBN}),
    Mutant(
        "head with a global average pool (no spatial layout)",
        ("exit_head_layers", "exit_head_forward"),
        {"ExitHead": HeadGlobalPool},
    ),
    Mutant("head ignores pool_size", ("exit_head_layers", "exit_head_forward"), {"ExitHead": HeadFixedGrid}),
    Mutant("head flattens position-major", ("exit_head_forward",), {"ExitHead": HeadChannelsLastFlatten}),
    Mutant("head conv without padding", ("exit_head_layers", "exit_head_forward"), {"ExitHead": HeadNoPadding}),
    Mutant("head conv with stride 1", ("exit_head_layers", "exit_head_forward"), {"ExitHead": HeadStride1}),
    Mutant("head without input validation", ("exit_head_rejects_bad_input",), {"ExitHead": HeadNoValidation}),
    # BranchyResNet
    Mutant(
        "exit head reads the next stage",
        ("branchy_heads_read_their_stage", "branchy_structure"),
        {"BranchyResNet": BranchyNextStage},
    ),
    Mutant(
        "exit head reads the stage input",
        ("branchy_heads_read_their_stage", "branchy_structure"),
        {"BranchyResNet": BranchyStageInput},
    ),
    Mutant(
        "course_lib PoolLinearHead instead of ExitHead", ("branchy_structure",), {"BranchyResNet": BranchyLightHeads}
    ),
    Mutant("new head instead of the backbone classifier", ("branchy_structure",), {"BranchyResNet": BranchyExtraHead}),
    Mutant("backbone shared between instances", ("branchy_structure",), {"BranchyResNet": BranchySharedBackbone}),
    Mutant("forward returns a tuple", ("branchy_heads_read_their_stage",), {"BranchyResNet": BranchyReturnsTuple}),
    Mutant("forward without input validation", ("branchy_interface",), {"BranchyResNet": BranchyNoValidation}),
    Mutant(
        "backbone hidden from block_costs",
        ("branchy_interface", "branchy_structure"),
        {"BranchyResNet": BranchyNoAttributes},
    ),
    # weighted_exit_loss
    Mutant(
        "weights ignored",
        ("loss_matches_reference", "loss_weights_reach_their_exit"),
        {"weighted_exit_loss": loss_unweighted},
    ),
    Mutant(
        "weights applied to the wrong exits",
        ("loss_matches_reference", "loss_weights_reach_their_exit", "loss_is_differentiable"),
        {"weighted_exit_loss": loss_reversed_weights},
    ),
    Mutant(
        "sum over the batch instead of mean",
        ("loss_matches_reference", "loss_weights_reach_their_exit", "loss_is_differentiable"),
        {"weighted_exit_loss": loss_sum_over_batch},
    ),
    Mutant(
        "mean over exits instead of sum",
        ("loss_matches_reference", "loss_weights_reach_their_exit"),
        {"weighted_exit_loss": loss_mean_over_exits},
    ),
    Mutant(
        "weights normalised to sum 1",
        ("loss_matches_reference", "loss_weights_reach_their_exit"),
        {"weighted_exit_loss": loss_normalised_weights},
    ),
    Mutant("loss detached from the graph", ("loss_is_differentiable",), {"weighted_exit_loss": loss_detached}),
    Mutant("loss without input validation", ("loss_rejects_bad_input",), {"weighted_exit_loss": loss_no_validation}),
    # train_early_exit
    Mutant(
        "early-exit model shares the baseline's modules",
        ("train_leaves_baseline_intact",),
        {"train_early_exit": train_shares_modules},
    ),
    Mutant(
        "baseline object reused as the early-exit model",
        ("train_leaves_baseline_intact",),
        {"train_early_exit": train_the_baseline},
    ),
    Mutant(
        "no check that model is not the baseline",
        ("train_leaves_baseline_intact",),
        {"train_early_exit": train_no_alias_check},
    ),
    Mutant(
        "trains from scratch instead of the baseline copy",
        ("train_starts_from_baseline_copy",),
        {"train_early_exit": train_from_scratch},
    ),
    Mutant(
        "copies only the stem from the baseline",
        ("train_starts_from_baseline_copy",),
        {"train_early_exit": train_copies_stem_only},
    ),
    Mutant(
        "training ignores the weights", ("train_uses_loss_and_weights",), {"train_early_exit": train_ignores_weights}
    ),
    Mutant(
        "training on the final exit only", ("train_uses_loss_and_weights",), {"train_early_exit": train_final_exit_only}
    ),
    Mutant(
        "IC-only: backbone and final exit frozen, only the side heads train",
        ("train_changes_every_group",),
        {"train_early_exit": train_frozen_backbone},
    ),
    Mutant(
        "side heads frozen, only backbone and final exit train",
        ("train_changes_every_group",),
        {"train_early_exit": train_frozen_side_heads},
    ),
    Mutant(
        "stem and first stage frozen",
        ("train_changes_every_group",),
        {"train_early_exit": train_frozen_stem},
    ),
    # per_exit_accuracy
    Mutant(
        "accuracy in train mode",
        ("accuracy_matches_eval_mode", "accuracy_restores_mode"),
        {"per_exit_accuracy": accuracy_train_mode},
    ),
    Mutant("mode left in eval", ("accuracy_restores_mode",), {"per_exit_accuracy": accuracy_no_restore}),
    Mutant("mode forced to train", ("accuracy_restores_mode",), {"per_exit_accuracy": accuracy_always_train_after}),
    Mutant("mean of batch accuracies", ("accuracy_counts_samples",), {"per_exit_accuracy": accuracy_mean_of_batches}),
    # per_exit_costs
    Mutant("costs leave out the side heads", ("costs_match_reference",), {"per_exit_costs": costs_without_heads}),
    Mutant(
        "costs count only the current head",
        ("costs_match_reference", "costs_include_every_head"),
        {"per_exit_costs": costs_current_head_only},
    ),
    Mutant(
        "costs not cumulative",
        ("costs_match_reference", "costs_include_every_head"),
        {"per_exit_costs": costs_not_cumulative},
    ),
    Mutant(
        "costs at batch 2",
        ("costs_match_reference", "costs_include_every_head"),
        {"per_exit_costs": costs_batch_of_two},
    ),
    Mutant("costs without shape validation", ("costs_reject_bad_shape",), {"per_exit_costs": costs_no_validation}),
    Mutant("costs copied from cl.cost.exit_costs", ("costs_match_reference",), {"per_exit_costs": costs_from_library}),
]
