"""Known-wrong implementations for 05_self_distillation; each names the hidden tests that must catch it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import course_lib as cl
from autograder import content
from autograder.suite import Mutant

ref = content.load("05_self_distillation", "reference")


# --- distillation_loss --------------------------------------------------------------------------


def kd_no_t_squared(s, t, T):
    return ref.distillation_loss(s, t, T) / (T * T)


def kd_reverse_direction(s, t, T):
    log_q = F.log_softmax(s / T, dim=1)
    log_p = F.log_softmax(t.detach() / T, dim=1)
    return T * T * (log_q.exp() * (log_q - log_p)).sum(1).mean()


def kd_probabilities_into_kl_div(s, t, T):
    # F.kl_div wants log-probabilities as its input; handing it probabilities gives another number
    q = F.softmax(s / T, dim=1)
    p = F.softmax(t.detach() / T, dim=1)
    return T * T * F.kl_div(q, p, reduction="batchmean")


def kd_log_of_softmax(s, t, T):
    # mathematically right, numerically unsafe: log(softmax) underflows to log(0) for large logits
    q = F.softmax(s / T, dim=1)
    p = F.softmax(t.detach() / T, dim=1)
    return T * T * (p * (torch.log(p) - torch.log(q))).sum(1).mean()


def kd_teacher_not_detached(s, t, T):
    log_q = F.log_softmax(s / T, dim=1)
    log_p = F.log_softmax(t / T, dim=1)
    return T * T * (log_p.exp() * (log_p - log_q)).sum(1).mean()


def kd_sum_over_batch(s, t, T):
    return ref.distillation_loss(s, t, T) * s.shape[0]


def kd_no_validation(s, t, T):
    T = T if T != 0 else 1.0
    s, t = torch.atleast_2d(s), torch.atleast_2d(t)
    n = min(s.shape[1], t.shape[1])
    return ref.distillation_loss(s[:, :n], t[:, :n], T)


# --- self_distillation_loss ---------------------------------------------------------------------


def _ce_sum(exit_logits, y, weights):
    return sum(w * F.cross_entropy(z, y) for w, z in zip(weights, exit_logits))


def sd_alpha_swapped(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    return ref.self_distillation_loss(exit_logits, y, 1.0 - alpha, T, features, hint_weight)


def sd_deepest_into_itself(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    # off-by-one loop over exits 2..K: distils the deepest into itself (a zero term) and skips exit 1
    teacher = exit_logits[-1]
    loss = _ce_sum(exit_logits, y, [1.0 - alpha] * len(exit_logits))
    for z in exit_logits[1:]:
        loss = loss + alpha * ref.distillation_loss(z, teacher, T)
    return loss


def sd_teacher_not_detached(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    teacher = exit_logits[-1]
    loss = _ce_sum(exit_logits, y, [1.0 - alpha] * len(exit_logits))
    for z in exit_logits[:-1]:
        loss = loss + alpha * kd_teacher_not_detached(z, teacher, T)
    return loss


def sd_deepest_full_ce(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    # alpha only on the shallow exits' terms: the deepest exit keeps a full-weight CE
    loss = ref.self_distillation_loss(exit_logits, y, alpha, T, features, hint_weight)
    return loss + alpha * F.cross_entropy(exit_logits[-1], y)


def sd_mean_over_exits(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    return ref.self_distillation_loss(exit_logits, y, alpha, T, features, hint_weight) / len(exit_logits)


def sd_hint_not_detached(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    loss = ref.self_distillation_loss(exit_logits, y, alpha, T)
    if features is not None and hint_weight > 0:
        for f in features[:-1]:
            loss = loss + hint_weight * (f - features[-1]).pow(2).mean()
    return loss


def sd_hint_ignored(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    return ref.self_distillation_loss(exit_logits, y, alpha, T)


def sd_hint_weight_ignored(exit_logits, y, alpha, T, features=None, hint_weight=0.0):
    return ref.self_distillation_loss(exit_logits, y, alpha, T, features, 1.0 if features is not None else 0.0)


# --- train_exit_model ---------------------------------------------------------------------------


def _build(splits, arch):
    return cl.models.EarlyExitResNet(num_classes=splits.num_classes, in_channels=splits.input_shape[0], **arch)


def _train_frozen(frozen, loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    """The reference run with the parameters of the `frozen` modules switched off before fit."""
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    cl.env.set_seed(seed)
    model = _build(splits, arch)
    for module in frozen(model):
        for p in module.parameters():
            p.requires_grad_(False)
    cfg = dict(config, seed=seed, arch=dict(arch), batch_size=batch_size, dataset=splits.name)
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
        config=cfg,
    )
    model.eval()
    return model, history


def train_teacher_frozen(*args, **kwargs):
    """Freezes the deepest exit's head ("the teacher must not learn from the students", taken too far)."""
    return _train_frozen(lambda m: [m.exits[-1]], *args, **kwargs)


def train_backbone_frozen(*args, **kwargs):
    """SDN's IC-only mode on a fresh network: the stem and stages stay at their random initialisation."""
    return _train_frozen(lambda m: [m.stem, m.stages], *args, **kwargs)


def train_unseeded(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    model = _build(splits, arch)
    cfg = dict(config, seed=seed, arch=arch, batch_size=batch_size)
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
        config=cfg,
    )
    return model, history


def train_config_without_objective(
    loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"
):
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    cl.env.set_seed(seed)
    model = _build(splits, arch)
    cfg = {"name": config.get("name", "run"), "seed": seed, "arch": arch}
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
        config=cfg,
    )
    return model, history


def train_config_without_seed(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    cl.env.set_seed(seed)
    model = _build(splits, arch)
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
        config=dict(config, arch=arch),
    )
    return model, history


def train_without_cache(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    """Seeded, but fit gets no config: nothing is cached, an identical run retrains to the same weights."""
    loaders = cl.data.make_loaders(splits, batch_size=batch_size, seed=seed)
    cl.env.set_seed(seed)
    model = _build(splits, arch)
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=num_epochs,
        lr=lr,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
    )
    return model, history


_REMEMBERED: dict = {}


def train_remembered_by_seed(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    """Unseeded, but answers a repeated (seed, config, budget) from an in-memory copy of its first answer."""
    import copy
    import json

    key = json.dumps([seed, num_epochs, config], sort_keys=True, default=str)
    if key not in _REMEMBERED:
        _REMEMBERED[key] = train_unseeded(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size, augment)
    return copy.deepcopy(_REMEMBERED[key])


def train_ignores_loss_fn(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    plain = lambda out, y: sum(F.cross_entropy(z, y) for z in out)  # noqa: E731
    return ref.train_exit_model(
        plain, dict(config, ignored=True), splits, arch, seed, num_epochs, lr, batch_size, augment
    )


def train_fixed_budget(loss_fn, config, splits, arch, seed, num_epochs, lr, batch_size=128, augment="shift"):
    return ref.train_exit_model(loss_fn, config, splits, arch, seed, 1, lr, batch_size, augment)


MUTANTS = [
    Mutant("distillation without the T^2 factor", ("distillation_value",), {"distillation_loss": kd_no_t_squared}),
    Mutant(
        "KL in the reverse direction KL(student || teacher)",
        ("distillation_value",),
        {"distillation_loss": kd_reverse_direction},
    ),
    Mutant(
        "probabilities instead of log-probabilities into F.kl_div",
        ("distillation_value",),
        {"distillation_loss": kd_probabilities_into_kl_div},
    ),
    Mutant(
        "summed over the batch instead of the batch mean",
        ("distillation_value",),
        {"distillation_loss": kd_sum_over_batch},
    ),
    Mutant(
        "teacher not detached in distillation_loss",
        ("distillation_gradients",),
        {"distillation_loss": kd_teacher_not_detached},
    ),
    Mutant(
        "log of softmax probabilities (underflows for large logits)",
        ("distillation_stable_and_checked",),
        {"distillation_loss": kd_log_of_softmax},
    ),
    Mutant(
        "no input validation in distillation_loss",
        ("distillation_stable_and_checked",),
        {"distillation_loss": kd_no_validation},
    ),
    Mutant(
        "alpha applied to the wrong term",
        ("self_distillation_value", "self_distillation_gradients", "self_distillation_alpha_limits"),
        {"self_distillation_loss": sd_alpha_swapped},
    ),
    Mutant(
        "deepest exit distilled into itself (loop over exits 2..K)",
        ("self_distillation_value", "self_distillation_gradients"),
        {"self_distillation_loss": sd_deepest_into_itself},
    ),
    Mutant(
        "teacher not detached in self_distillation_loss",
        ("self_distillation_gradients",),
        {"self_distillation_loss": sd_teacher_not_detached},
    ),
    Mutant(
        "deepest exit keeps a full-weight CE",
        ("self_distillation_value", "self_distillation_alpha_limits"),
        {"self_distillation_loss": sd_deepest_full_ce},
    ),
    Mutant(
        "averaged over exits instead of summed",
        ("self_distillation_value", "self_distillation_alpha_limits"),
        {"self_distillation_loss": sd_mean_over_exits},
    ),
    Mutant(
        "hint target (deepest features) not detached",
        ("self_distillation_feature_hint",),
        {"self_distillation_loss": sd_hint_not_detached},
    ),
    Mutant("feature hint ignored", ("self_distillation_feature_hint",), {"self_distillation_loss": sd_hint_ignored}),
    Mutant(
        "hint_weight ignored", ("self_distillation_feature_hint",), {"self_distillation_loss": sd_hint_weight_ignored}
    ),
    Mutant("model not seeded", ("train_fresh_seeded_model",), {"train_exit_model": train_unseeded}),
    Mutant(
        "deepest exit (the teacher) frozen during training",
        ("train_changes_every_group",),
        {"train_exit_model": train_teacher_frozen},
    ),
    Mutant(
        "backbone frozen (IC-only training of a fresh network)",
        ("train_changes_every_group",),
        {"train_exit_model": train_backbone_frozen},
    ),
    Mutant(
        "cache config without the objective",
        ("train_cache_key_includes_run",),
        {"train_exit_model": train_config_without_objective},
    ),
    Mutant(
        "cache config without the seed",
        ("train_cache_key_includes_run",),
        {"train_exit_model": train_config_without_seed},
    ),
    Mutant(
        "no checkpoint cache (an identical run retrains)",
        ("train_cache_key_includes_run",),
        {"train_exit_model": train_without_cache},
    ),
    Mutant(
        "unseeded, repeated runs answered from memory",
        ("train_fresh_seeded_model",),
        {"train_exit_model": train_remembered_by_seed},
    ),
    Mutant(
        "loss_fn ignored (trains on a plain sum of CE)",
        ("train_uses_loss_and_budget",),
        {"train_exit_model": train_ignores_loss_fn},
    ),
    Mutant("fixed number of epochs", ("train_uses_loss_and_budget",), {"train_exit_model": train_fixed_budget}),
]
