"""Probes for 02_branchynet: run inside the student's process, return plain data only.

They inspect objects that cannot travel back as data (modules the student builds, training side
effects, train/eval mode, exception types). They hold no reference answers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import course_lib as cl
from autograder.student import raised_error_name


def _seeded_like(tensor: torch.Tensor, gen: torch.Generator, scale: float = 0.5) -> torch.Tensor:
    return (torch.randn(tensor.shape, generator=gen) * scale).to(tensor.dtype)


# ------------------------------------------------------------------------------------ ExitHead


def _make_head(ns: dict, in_channels: int, num_classes: int, hidden: int, pool_size: int | None) -> nn.Module:
    """The student's ExitHead; pool_size None means the signature's default."""
    if pool_size is None:
        return ns["ExitHead"](in_channels, num_classes, hidden)
    return ns["ExitHead"](in_channels, num_classes, hidden, pool_size=pool_size)


def exit_head_layers(ns: dict, in_channels: int, num_classes: int, hidden: int, pool_size: int | None = None) -> dict:
    """The conv, BN and linear layers of a freshly built ExitHead, described as data."""
    head = _make_head(ns, in_channels, num_classes, hidden, pool_size)
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in head.modules() if isinstance(m, nn.BatchNorm2d)]
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return {
        "is_module": isinstance(head, nn.Module),
        "convs": [
            {
                "in": c.in_channels,
                "out": c.out_channels,
                "kernel": list(c.kernel_size),
                "stride": list(c.stride),
                "padding": list(c.padding) if not isinstance(c.padding, str) else c.padding,
            }
            for c in convs
        ],
        "bns": [b.num_features for b in bns],
        "linears": [{"in": lin.in_features, "out": lin.out_features} for lin in linears],
    }


def exit_head_forward(
    ns: dict, in_channels: int, num_classes: int, hidden: int, x: torch.Tensor, seed: int, pool_size: int | None = None
) -> dict:
    """Build an ExitHead, give its layers seeded values, run it in eval mode; return values and output."""
    head = _make_head(ns, in_channels, num_classes, hidden, pool_size)
    gen = torch.Generator().manual_seed(seed)
    conv = next(m for m in head.modules() if isinstance(m, nn.Conv2d))
    bn = next(m for m in head.modules() if isinstance(m, nn.BatchNorm2d))
    fc = next(m for m in head.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        conv.weight.copy_(_seeded_like(conv.weight, gen))
        if conv.bias is not None:
            conv.bias.zero_()
        bn.weight.copy_(1.0 + _seeded_like(bn.weight, gen, 0.2))
        bn.bias.copy_(_seeded_like(bn.bias, gen))
        bn.running_mean.copy_(_seeded_like(bn.running_mean, gen))
        bn.running_var.copy_(0.5 + torch.rand(bn.running_var.shape, generator=gen))
        fc.weight.copy_(_seeded_like(fc.weight, gen))
        fc.bias.copy_(_seeded_like(fc.bias, gen))
    head.eval()
    with torch.no_grad():
        out = head(x)
    return {
        "out": out,
        "conv_weight": conv.weight.detach().clone(),
        "bn": [
            bn.weight.detach().clone(),
            bn.bias.detach().clone(),
            bn.running_mean.clone(),
            bn.running_var.clone(),
            float(bn.eps),
        ],
        "fc": [fc.weight.detach().clone(), fc.bias.detach().clone()],
    }


def exit_head_bad_inputs(ns: dict, in_channels: int, num_classes: int, hidden: int) -> list[str]:
    """Error kinds when the head gets the wrong number of channels and a 3-D tensor."""
    head = ns["ExitHead"](in_channels, num_classes, hidden).eval()
    with torch.no_grad():
        return [
            raised_error_name(head, torch.zeros(2, in_channels + 3, 6, 6)),
            raised_error_name(head, torch.zeros(in_channels, 6, 6)),
        ]


# ------------------------------------------------------------------------------- BranchyResNet


class _StandInHead(nn.Module):
    """A trusted exit head swapped in for the student's ExitHead, so BranchyResNet is tested alone.

    Its output is a fingerprint of the tensor it read: fixed weights (seeded from its shape, the same in the
    judge) applied to the 2x2-pooled map, plus the map's height and width. The judge recomputes the fingerprint
    of every stage's output from the returned weights, so the logits alone show which tensor each exit read.
    """

    def __init__(
        self, in_channels: int, num_classes: int, hidden_channels: int = 32, pool_size: int = 2, **_ignored: Any
    ) -> None:
        super().__init__()
        self.built_for = int(in_channels)
        self.fc = nn.Linear(in_channels * 4, num_classes)
        gen = torch.Generator().manual_seed(7919 * int(in_channels) + int(num_classes))
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(self.fc.weight.shape, generator=gen))
            self.fc.bias.copy_(torch.randn(self.fc.bias.shape, generator=gen))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        size = torch.tensor([float(h.shape[-2]) + float(h.shape[-1]) / 64.0], dtype=h.dtype, device=h.device)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 2), 1)) + size


def _globals_of(cls: Any) -> list[dict]:
    """The global namespaces the class's own methods look names up in (the notebook's, for a student)."""
    found: list[dict] = []
    for klass in getattr(cls, "__mro__", ()):
        for attr in vars(klass).values():
            g = getattr(attr, "__globals__", None)
            if isinstance(g, dict) and all(g is not f for f in found):
                found.append(g)
    return found


def _build_branchy(ns: dict, kwargs: dict) -> nn.Module:
    """Build the student's BranchyResNet with the trusted stand-in head in place of their ExitHead."""
    spaces = [ns] + [g for g in _globals_of(ns["BranchyResNet"]) if g is not ns and "ExitHead" in g]
    saved = [(space, space.get("ExitHead", None), "ExitHead" in space) for space in spaces]
    for space in spaces:
        space["ExitHead"] = _StandInHead
    try:
        return ns["BranchyResNet"](**kwargs)
    finally:
        for space, value, present in saved:
            if present:
                space["ExitHead"] = value
            else:
                space.pop("ExitHead", None)


def branchy_structure(ns: dict, kwargs: dict) -> dict:
    """Attributes, exits and parameter sharing of two BranchyResNets built with `kwargs`."""
    model, other = _build_branchy(ns, kwargs), _build_branchy(ns, kwargs)
    info: dict = {"has": [hasattr(model, a) for a in ("stem", "stages", "exits")]}
    if not all(info["has"]):
        return info
    info["num_stages"] = len(model.stages)
    info["num_exits"] = len(model.exits)
    info["blocks_are_basic"] = all(isinstance(b, cl.models.BasicBlock) for s in model.stages for b in s)
    info["stage_widths"] = [s[-1].out_channels for s in model.stages]
    info["side_exits"] = [
        {"stand_in": isinstance(e, _StandInHead), "built_for": getattr(e, "built_for", -1)}
        for e in list(model.exits)[:-1]
    ]
    last = model.exits[-1]
    info["last_exit"] = {
        "convs": sum(isinstance(m, nn.Conv2d) for m in last.modules()),
        "linears": [[m.in_features, m.out_features] for m in last.modules() if isinstance(m, nn.Linear)],
        "stand_in": isinstance(last, _StandInHead),
    }
    pointers = {p.data_ptr() for p in other.parameters()}
    info["shared_between_instances"] = any(p.data_ptr() in pointers for p in model.parameters())
    return info


def branchy_stage_wiring(ns: dict, kwargs: dict, x: torch.Tensor) -> dict:
    """One eval-mode forward on `x` with trusted stand-in exit heads: the logits it returned, and (taken after
    it) the weights of the stem, the stages and the last exit, from which the judge recomputes every exit's
    expected logits. Nothing measured here decides the test: no hooks, no by-hand pass, no flags."""
    model = _build_branchy(ns, kwargs).eval()
    with torch.no_grad():
        outputs = model(x)
    is_list = isinstance(outputs, list)  # course_lib.training reads a tuple as (logits, extras)
    outs = list(outputs) if is_list else [outputs]
    exits = list(getattr(model, "exits", []))
    return {
        "is_list": is_list,
        "outputs": [o.detach().clone() for o in outs if isinstance(o, torch.Tensor)],
        "side_stand_ins": [isinstance(e, _StandInHead) for e in exits[:-1]],
        "stem": _snapshot(model.stem),
        "stages": _snapshot(model.stages),
        "last_exit": _snapshot(exits[-1]) if exits else {},
    }


def branchy_interface(ns: dict, kwargs: dict, input_shape: tuple) -> dict:
    """course_lib's block_costs walks the model; wrong-channel input raises which error."""
    model = _build_branchy(ns, kwargs)
    parts = cl.cost.block_costs(model, input_shape)
    c, h, w = input_shape
    with torch.no_grad():
        bad = raised_error_name(model.eval(), torch.zeros(2, c + 2, h, w))
    return {"parts": parts, "num_exits": len(model.exits), "bad_channels": bad}


# -------------------------------------------------------------------------- weighted_exit_loss


def loss_gradients(ns: dict, logits: list, y: torch.Tensor, weights: list) -> dict:
    """Value and per-exit gradient norms of the student's loss; None where no gradient arrived."""
    leaves = [z.clone().requires_grad_(True) for z in logits]
    loss = ns["weighted_exit_loss"](leaves, y, weights)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not loss.requires_grad:
        return {"tensor_scalar_with_grad": False}
    loss.backward()
    return {"tensor_scalar_with_grad": True, "grads": [z.grad.clone() if z.grad is not None else None for z in leaves]}


def loss_bad_inputs(ns: dict, logits: list, y: torch.Tensor) -> list[str]:
    """Error kinds for: one weight too few, labels of the wrong length, 3-D logits."""
    fn = ns["weighted_exit_loss"]
    n = len(logits)
    return [
        raised_error_name(fn, logits, y, [1.0] * (n - 1)),
        raised_error_name(fn, logits, y[:-1], [1.0] * n),
        raised_error_name(fn, [z.unsqueeze(-1) for z in logits], y, [1.0] * n),
    ]


# ---------------------------------------------------------------------------- train_early_exit


class _LossRecorder:
    """A loss callable (logits list, y, weights) -> scalar that remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, exit_logits: Any, y: torch.Tensor, weights: Any) -> torch.Tensor:
        self.calls.append(
            {
                "num_outputs": len(exit_logits) if isinstance(exit_logits, (list, tuple)) else -1,
                "weights": [float(w) for w in weights],
            }
        )
        # multi-class hinge loss: any differentiable loss will do for this probe
        return sum(float(w) * F.multi_margin_loss(o, y) for o, w in zip(exit_logits, weights))


def _tiny_pair(arch: dict, seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    baseline = cl.models.ResNet(3, 1, **arch)
    model = cl.models.EarlyExitResNet(3, 1, **arch)
    with torch.no_grad():  # a "trained" baseline: weights and BN statistics unlike a fresh init
        gen = torch.Generator().manual_seed(seed + 1)
        for t in list(baseline.parameters()) + [b for b in baseline.buffers() if b.is_floating_point()]:
            t.add_(_seeded_like(t, gen, 0.1).abs())
    return model, baseline


def _snapshot(module: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def train_side_effects(ns: dict, arch: dict, loader: Any, weights: list, seed: int) -> dict:
    """Train one epoch; report identity, storage sharing and what changed in model and baseline."""
    model, baseline = _tiny_pair(arch, seed)
    base_before, model_before = _snapshot(baseline), _snapshot(model)
    recorder = _LossRecorder()
    out = ns["train_early_exit"](
        model, baseline, loader, weights=weights, loss_fn=recorder, num_epochs=1, lr=0.05, augment=None, verbose=False
    )
    returned = out[0] if isinstance(out, tuple) and out else out
    model_ptrs = {t.data_ptr() for t in list(model.parameters()) + list(model.buffers()) if t.numel()}
    shared = any(
        t.data_ptr() in model_ptrs for t in list(baseline.parameters()) + list(baseline.buffers()) if t.numel()
    )
    # the baseline passed as the model must be refused
    _, other_base = _tiny_pair(arch, seed)
    refuse_alias = raised_error_name(
        ns["train_early_exit"],
        other_base,
        other_base,
        loader,
        weights=weights,
        loss_fn=_LossRecorder(),
        num_epochs=1,
        lr=0.05,
        augment=None,
        verbose=False,
    )
    return {
        "returned_is_model": returned is model,
        "returned_is_baseline": returned is baseline,
        "shared_storage": shared,
        "baseline_unchanged": _same(_snapshot(baseline), base_before),
        "model_changed": not _same(_snapshot(model), model_before),
        "refuse_alias": refuse_alias,
        "calls": recorder.calls[:3],
        "num_calls": len(recorder.calls),
        "num_exits": len(model.exits),
        "groups_changed": _groups_changed(model, model_before, base_before),
    }


def _groups_changed(model: nn.Module, before: dict, base_before: dict) -> dict:
    """For each parameter group (stem, every stage, every exit head): did its learnable parameters move away from
    where training started (the backbone and final exit from the baseline's copy, the side heads from their fresh
    initialisation)? Parameters only: BN running statistics move in train mode even when a group is frozen."""
    last = len(model.exits) - 1
    groups = {"stem": ("stem.", "stem.", base_before)}
    groups.update({f"stage {i + 1}": (f"stages.{i}.", f"stages.{i}.", base_before) for i in range(len(model.stages))})
    groups.update({f"exit {i + 1}": (f"exits.{i}.", f"exits.{i}.", before) for i in range(last)})
    groups[f"exit {last + 1}"] = (f"exits.{last}.", "classifier.", base_before)
    params = {k: v.detach().cpu() for k, v in model.named_parameters()}
    out = {}
    for group, (prefix, start_prefix, start) in groups.items():
        pairs = [(v, start.get(start_prefix + k[len(prefix) :])) for k, v in params.items() if k.startswith(prefix)]
        out[group] = any(s is None or s.shape != v.shape or not torch.equal(v, s) for v, s in pairs)
    return out


def train_initialisation(ns: dict, arch: dict, loader: Any, weights: list, seed: int) -> dict:
    """With zero epochs: does the model's backbone (and final classifier) equal the baseline's?"""
    model, baseline = _tiny_pair(arch, seed)
    heads_before = [_snapshot(h) for h in list(model.exits)[:-1]]
    ns["train_early_exit"](
        model,
        baseline,
        loader,
        weights=weights,
        loss_fn=_LossRecorder(),
        num_epochs=0,
        lr=0.05,
        augment=None,
        verbose=False,
    )
    return {
        "stem": _same(_snapshot(model.stem), _snapshot(baseline.stem)),
        "stages": _same(_snapshot(model.stages), _snapshot(baseline.stages)),
        "classifier": _same(_snapshot(model.exits[-1]), _snapshot(baseline.classifier)),
        "side_heads_kept": all(_same(_snapshot(h), b) for h, b in zip(list(model.exits)[:-1], heads_before)),
    }


# --------------------------------------------------------------------------- per_exit_accuracy


def accuracy_mode_effects(ns: dict, model: nn.Module, loader: Any, start_training: bool) -> dict:
    """Call per_exit_accuracy on a model in train or eval mode; report mode and BN statistics after."""
    model.train(start_training)
    before = _snapshot(model)
    ns["per_exit_accuracy"](model, loader)
    modes = {m.training for m in model.modules()}
    return {
        "training_after": model.training,
        "uniform_mode": len(modes) == 1,
        "state_unchanged": _same(_snapshot(model), before),
    }


# ------------------------------------------------------------------------------ per_exit_costs


def costs_bad_shapes(ns: dict, model: nn.Module) -> list[str]:
    """Error kinds for input shapes with a batch axis and without a channel axis."""
    fn = ns["per_exit_costs"]
    return [raised_error_name(fn, model, (1, 1, 12, 12)), raised_error_name(fn, model, (12, 12))]
