"""Probes for 05_self_distillation: run graded code where the student's code lives, return plain data.

They hold no reference answers. `self_distillation_run` temporarily puts the course's own
distillation_loss in place of the student's while it runs, so a self-distillation test grades only
self_distillation_loss (a partial submission earns the points of the functions it solved).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from autograder.student import raised_error_name

STEM = "05_self_distillation"


def reference_helpers(probe: str, args: tuple) -> tuple[str, ...]:
    """Trusted functions probe `probe` called with `args` swaps in (never the graded function itself).

    Called by the grader's judge, which ships exactly these to the sandboxed runner (the runner cannot
    read autograder/course): see autograder/grader/trusted.py.
    """
    if probe == "self_distillation_run" or (probe == "error_name" and args and args[0] != "distillation_loss"):
        return ("distillation_loss",)
    return ()


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().requires_grad_(True)


def _grad(t: torch.Tensor) -> torch.Tensor | None:
    return None if t.grad is None else t.grad.detach().clone()


def _scalar(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError(
            f"{what} must return a scalar tensor, got "
            f"{type(value).__name__}{'' if not isinstance(value, torch.Tensor) else tuple(value.shape)}"
        )
    if not value.requires_grad:
        raise TypeError(f"{what} returned a tensor without a gradient (was it detached or built with .item()?)")
    return value.reshape(())


def distillation_run(ns: dict, student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> dict:
    """Call distillation_loss on leaf tensors, backpropagate, return the loss and both gradients."""
    s, t = _leaf(student_logits), _leaf(teacher_logits)
    loss = _scalar(ns["distillation_loss"](s, t, T), "distillation_loss")
    loss.backward()
    return {"loss": loss.detach(), "student_grad": _grad(s), "teacher_grad": _grad(t)}


@contextlib.contextmanager
def _course_distillation(ns: dict):
    """Put the course's distillation_loss into the student's namespace for the duration of a call."""
    from autograder.grader.trusted import reference_function

    had, previous = "distillation_loss" in ns, ns.get("distillation_loss")
    ns["distillation_loss"] = reference_function(STEM, "distillation_loss")
    try:
        yield
    finally:
        if had:
            ns["distillation_loss"] = previous
        else:
            ns.pop("distillation_loss", None)


def error_name(ns: dict, name: str, *args: Any, **kwargs: Any) -> str:
    """The class name of the exception `name(*args)` raises ("no error" if it returns).

    For any graded function other than distillation_loss, the course's distillation_loss is in place.
    """
    context = contextlib.nullcontext() if name == "distillation_loss" else _course_distillation(ns)
    with context:
        return raised_error_name(ns[name], *args, **kwargs)


def self_distillation_run(
    ns: dict,
    exit_logits: list,
    y: torch.Tensor,
    alpha: float,
    T: float,
    features: list | None = None,
    hint_weight: float = 0.0,
) -> dict:
    """Call self_distillation_loss on leaf tensors with the course's distillation_loss in place."""
    logits = [_leaf(z) for z in exit_logits]
    feats = None if features is None else [_leaf(f) for f in features]
    with _course_distillation(ns):
        loss = _scalar(
            ns["self_distillation_loss"](logits, y, alpha, T, features=feats, hint_weight=hint_weight),
            "self_distillation_loss",
        )
    loss.backward()
    return {
        "loss": loss.detach(),
        "grads": [_grad(z) for z in logits],
        "feature_grads": None if feats is None else [_grad(f) for f in feats],
    }


# ---------------------------------------------------------------------------------------------
# train_exit_model: tiny data, tiny network, a private checkpoint cache per call

TINY_ARCH = {"base_width": 8, "blocks_per_stage": (1, 1, 1), "stage_strides": (2, 2, 2)}


def tiny_splits(seed: int = 0, channels: int = 2, classes: int = 5, side: int = 12):
    """A small random Splits object (train 48, val 16, test 16) with the given image shape."""
    import course_lib as cl

    g = torch.Generator().manual_seed(seed)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(n, channels, side, side, generator=g), torch.randint(0, classes, (n,), generator=g)

    (Xtr, ytr), (Xv, yv), (Xte, yte) = make(48), make(16), make(16)
    return cl.data.Splits("tiny", Xtr, ytr, Xv, yv, Xte, yte, tuple(str(c) for c in range(classes)))


def _sum_ce(output: list, y: torch.Tensor) -> torch.Tensor:
    return sum(F.cross_entropy(z, y) for z in output)


def _first_exit_ce(output: list, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(output[0], y)


LOSSES = {"sum_ce": _sum_ce, "first_exit_ce": _first_exit_ce}


@contextlib.contextmanager
def reproducible_training() -> Iterator[None]:
    """Make the probe's tiny training runs as repeatable as the device allows, and put everything back after.

    - deterministic kernels where torch has them (cuDNN included), without failing where it has none;
    - `cl.training.fit` trains without mixed precision (amp="off") unless the caller chose a mode, when fit
      has that switch: fp16 rounding would turn the scheduling noise of GPU kernels into larger differences.
    Same-seed runs can still differ in the last bits on a GPU; the tests compare with a small tolerance.
    """
    import course_lib.training as training

    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    algorithms = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    fit = training.fit
    if "amp" in inspect.signature(fit).parameters:

        @functools.wraps(fit)
        def fit_without_amp(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("amp", "off")
            return fit(*args, **kwargs)

        training.fit = fit_without_amp
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        training.fit = fit
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags
        torch.use_deterministic_algorithms(algorithms[0], warn_only=algorithms[1])


def tamper_checkpoints(folder: str, delta: float) -> int:
    """Trusted tripwire: add `delta` to every floating tensor of every checkpoint that cl.training.fit saved in
    `folder` (its config key kept), so a run that really reloads a checkpoint comes back with weights the judge
    can predict (first run's weights + delta), while a retrain or an in-memory copy cannot. Returns the count."""
    count = 0
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".pt"):
            continue
        path = os.path.join(folder, name)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["state_dict"]
        for key, value in state.items():
            if value.is_floating_point():
                state[key] = value + delta
        torch.save(ckpt, path)
        count += 1
    return count


def train_runs(ns: dict, runs: list[dict], shared_cache: bool) -> list[dict]:
    """Call train_exit_model for each run spec {loss, config, seed, num_epochs[, data, tamper]}; return weights.

    Every run gets a fresh Splits object (tiny_splits(data), data 0 by default): a repeated run sees equal data in
    new tensors, never the same objects. With `shared_cache` all runs use one fresh checkpoint folder (so a later
    run may load an earlier one's checkpoint when their configs hash alike); otherwise every run gets its own
    empty folder. A run with `tamper` first adds that number to the checkpoints already in its folder
    (tamper_checkpoints). The runs train under `reproducible_training()`.
    """
    import io

    root = tempfile.mkdtemp(prefix="probe05_")
    previous = os.environ.get("COURSE_CACHE_DIR")
    out = []
    try:
        for i, run in enumerate(runs):
            splits = tiny_splits(int(run.get("data", 0)))
            os.environ["COURSE_CACHE_DIR"] = os.path.join(root, "shared" if shared_cache else f"run{i}")
            tampered = (
                tamper_checkpoints(os.environ["COURSE_CACHE_DIR"], float(run["tamper"])) if "tamper" in run else 0
            )
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
                reproducible_training(),
            ):
                result = ns["train_exit_model"](
                    LOSSES[run["loss"]],
                    dict(run["config"]),
                    splits,
                    dict(TINY_ARCH),
                    run["seed"],
                    run["num_epochs"],
                    0.05,
                    batch_size=16,
                )
            if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[0], torch.nn.Module):
                raise TypeError("train_exit_model must return (model, history)")
            model, history = result
            out.append(
                {
                    "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                    "num_records": len(history) if isinstance(history, list) else -1,
                    "tampered": tampered,
                }
            )
    finally:
        if previous is None:
            os.environ.pop("COURSE_CACHE_DIR", None)
        else:
            os.environ["COURSE_CACHE_DIR"] = previous
        shutil.rmtree(root, ignore_errors=True)
    return out
