"""GENERATED from solutions/05_self_distillation.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""

import torch
import torch.nn.functional as F

import course_lib as cl


# cell 05-08
def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float
) -> torch.Tensor:
    """Distillation loss T^2 * KL(softmax(teacher/T) || softmax(student/T)), averaged over the batch.

    Args:
        student_logits: (N, C) logits of the exit that learns.
        teacher_logits: (N, C) logits of the teacher (the deepest exit); no gradient may reach them.
        T: temperature > 0.
    Returns:
        A scalar tensor (0-dim) that carries gradients to student_logits only.
    """
    for name, value in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(value, torch.Tensor) or value.ndim != 2:
            raise ValueError(
                f"{name} must be a tensor of shape (N, C), got "
                f"{tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}"
            )
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits must have the shape of student_logits {tuple(student_logits.shape)}, "
            f"got {tuple(teacher_logits.shape)}"
        )
    if not T > 0:
        raise ValueError(f"T must be positive, got {T!r}")
    log_q = F.log_softmax(student_logits / T, dim=1)
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=1)
    return (T**2) * kl.mean()


# cell 05-11
def self_distillation_loss(
    exit_logits: list,
    y: torch.Tensor,
    alpha: float,
    T: float,
    features: list | None = None,
    hint_weight: float = 0.0,
) -> torch.Tensor:
    """Self-distillation objective over all exits (the deepest exit is the teacher).

    Args:
        exit_logits: list of K >= 2 tensors (N, C), shallow to deep.
        y: (N,) integer labels.
        alpha: weight in [0, 1] of the distillation terms; the cross-entropies get 1 - alpha.
        T: temperature > 0 of the distillation terms.
        features: optional list of K tensors (N, D); features[-1] is the (detached) hint target.
        hint_weight: beta >= 0 of the feature-hint term (used only when features is given).
    Returns:
        A scalar tensor.
    """
    if not isinstance(exit_logits, (list, tuple)) or len(exit_logits) < 2:
        raise ValueError(
            "exit_logits must be a list of at least 2 tensors of shape (N, C), shallow to deep"
        )
    shape = tuple(exit_logits[-1].shape)
    for k, z in enumerate(exit_logits):
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or tuple(z.shape) != shape:
            raise ValueError(
                f"exit_logits[{k}] must have shape (N, C) = {shape} like the deepest exit"
            )
    n = shape[0]
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n,) or torch.is_floating_point(y):
        raise ValueError(f"y must be an integer tensor of shape ({n},)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if not T > 0:
        raise ValueError(f"T must be positive, got {T!r}")
    if hint_weight < 0:
        raise ValueError(f"hint_weight must be >= 0, got {hint_weight!r}")
    teacher = exit_logits[-1]
    ce = sum(F.cross_entropy(z, y) for z in exit_logits)
    kd = sum(distillation_loss(z, teacher, T) for z in exit_logits[:-1])
    loss = (1.0 - alpha) * ce + alpha * kd
    if features is not None:
        if not isinstance(features, (list, tuple)) or len(features) != len(exit_logits):
            raise ValueError(
                f"features must be a list of {len(exit_logits)} tensors (N, D), one per exit"
            )
        target = features[-1]
        for k, f in enumerate(features):
            if (
                not isinstance(f, torch.Tensor)
                or f.ndim != 2
                or tuple(f.shape) != (n, target.shape[1])
            ):
                raise ValueError(
                    f"features[{k}] must have shape ({n}, {target.shape[1]}) like features[-1]"
                )
        if hint_weight > 0:
            hint = sum((f - target.detach()).pow(2).mean() for f in features[:-1])
            loss = loss + hint_weight * hint
    return loss


# cell 05-14
def train_exit_model(
    loss_fn,
    config: dict,
    splits,
    arch: dict,
    seed: int,
    num_epochs: int,
    lr: float,
    batch_size: int = 128,
    augment: str | None = "shift",
):
    """Train a fresh, seeded EarlyExitResNet with loss_fn(exit_logits, y) through cl.training.fit.

    Args:
        loss_fn: callable (list of K exit logits (N, C), labels (N,)) -> scalar loss.
        config: dict describing the objective (e.g. {"name": "05-plain", "objective": "sum_ce"}).
        splits: a cl.data.Splits (train/val/test tensors).
        arch: EarlyExitResNet keywords, e.g. cl.models.default_arch().
        seed, num_epochs, lr, batch_size, augment: the training budget, identical across objectives.
    Returns:
        (model, history): the trained model (eval mode) and fit's per-epoch records.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if not isinstance(num_epochs, int) or num_epochs < 0:
        raise ValueError(f"num_epochs must be an integer >= 0, got {num_epochs!r}")
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    cl.env.set_seed(seed)
    model = cl.models.EarlyExitResNet(
        num_classes=splits.num_classes, in_channels=splits.input_shape[0], **arch
    )
    run_config = {
        "name": "05-run",
        **config,
        "seed": seed,
        "arch": dict(arch),
        "batch_size": batch_size,
        "dataset": splits.name,
    }
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
        config=run_config,
        desc=f"{run_config['name']} seed {seed}",
    )
    return model, history
