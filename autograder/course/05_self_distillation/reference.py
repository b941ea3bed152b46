"""Reference implementations of the graded functions of 05_self_distillation (instructor only)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

import course_lib as cl

__all__ = ["distillation_loss", "self_distillation_loss", "train_exit_model"]


def _check_logits(x: object, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C), got {type(x).__name__}.")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, C), got {tuple(x.shape)}.")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must hold float logits, got dtype {x.dtype}.")


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    """T^2 * KL(softmax(teacher/T) || softmax(student/T)), averaged over the batch; teacher gets no gradient."""
    _check_logits(student_logits, "student_logits")
    _check_logits(teacher_logits, "teacher_logits")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"teacher_logits must have the shape of student_logits {tuple(student_logits.shape)}, "
                         f"got {tuple(teacher_logits.shape)}.")
    if not isinstance(T, (int, float)) or isinstance(T, bool) or not T > 0:
        raise ValueError(f"T must be a positive number, got {T!r}.")
    log_q = F.log_softmax(student_logits / T, dim=1)
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=1)
    kl_per_sample = (log_p.exp() * (log_p - log_q)).sum(dim=1)
    return T * T * kl_per_sample.mean()


def self_distillation_loss(exit_logits: Sequence[torch.Tensor], y: torch.Tensor, alpha: float, T: float,
                           features: Sequence[torch.Tensor] | None = None, hint_weight: float = 0.0
                           ) -> torch.Tensor:
    """sum_k (1-alpha) CE_k + alpha * sum_{k<K} KD(exit k <- deepest) + hint_weight * sum_{k<K} MSE(f_k, f_K)."""
    if not isinstance(exit_logits, (list, tuple)) or len(exit_logits) < 2:
        raise ValueError("exit_logits must be a list of at least 2 tensors of shape (N, C), shallow to deep.")
    for k, z in enumerate(exit_logits):
        _check_logits(z, f"exit_logits[{k}]")
        if z.shape != exit_logits[-1].shape:
            raise ValueError(f"exit_logits[{k}] must have shape {tuple(exit_logits[-1].shape)} like the deepest "
                             f"exit, got {tuple(z.shape)}.")
    n = exit_logits[0].shape[0]
    if not isinstance(y, torch.Tensor) or y.shape != (n,) or torch.is_floating_point(y):
        raise ValueError(f"y must be an integer tensor of shape ({n},), got "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}.")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}.")
    if not float(T) > 0:
        raise ValueError(f"T must be positive, got {T!r}.")
    if float(hint_weight) < 0:
        raise ValueError(f"hint_weight must be >= 0, got {hint_weight!r}.")
    teacher = exit_logits[-1]
    loss = exit_logits[0].new_zeros(())
    for k, z in enumerate(exit_logits):
        loss = loss + (1.0 - alpha) * F.cross_entropy(z, y)
        if k < len(exit_logits) - 1:
            loss = loss + alpha * distillation_loss(z, teacher, T)
    if features is not None:
        if not isinstance(features, (list, tuple)) or len(features) != len(exit_logits):
            raise ValueError(f"features must be a list with one (N, D) tensor per exit ({len(exit_logits)}).")
        target = features[-1]
        for k, f in enumerate(features):
            if not isinstance(f, torch.Tensor) or f.ndim != 2 or f.shape != (n, target.shape[1]):
                raise ValueError(f"features[{k}] must have shape ({n}, {target.shape[1]}) like the deepest "
                                 f"exit's features, got {tuple(getattr(f, 'shape', ()))}.")
        if hint_weight > 0:
            for f in features[:-1]:
                loss = loss + hint_weight * (f - target.detach()).pow(2).mean()
    return loss


def train_exit_model(loss_fn, config: dict, splits, arch: dict, seed: int, num_epochs: int, lr: float,
                     batch_size: int = 128, augment: str | None = "shift"):
    """Fresh seeded EarlyExitResNet trained with fit on `loss_fn`; cached under config + seed + arch."""
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (output, y) -> loss, got {type(loss_fn).__name__}.")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict describing the objective, got {type(config).__name__}.")
    if not isinstance(splits, cl.data.Splits):
        raise TypeError(f"splits must be a course_lib.data.Splits, got {type(splits).__name__}.")
    if not isinstance(num_epochs, int) or num_epochs < 0:
        raise ValueError(f"num_epochs must be an integer >= 0, got {num_epochs!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}.")
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    cl.env.set_seed(seed)
    model = cl.models.EarlyExitResNet(num_classes=splits.num_classes, in_channels=splits.input_shape[0], **arch)
    run_config = dict(config, seed=seed, arch=arch, batch_size=batch_size, data=splits.name)
    run_config.setdefault("name", "05_exit_model")
    history = cl.training.fit(model, loaders["train"], num_epochs=num_epochs, lr=lr, loss_fn=loss_fn,
                              val_loader=loaders["val"], augment=augment, config=run_config,
                              desc=str(run_config["name"]))
    return model, history
