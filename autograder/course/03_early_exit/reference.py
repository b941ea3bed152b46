"""Reference implementations of 03_early_exit's graded functions (same names as the notebook)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _as_float_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a float tensor, got dtype {x.dtype}")
    return x


def _check_exit_logits(exit_logits, y, name: str = "exit_logits") -> None:
    _as_float_tensor(exit_logits, name)
    if exit_logits.ndim != 3:
        raise ValueError(f"{name} must have shape (E, N, C), got {tuple(exit_logits.shape)}")
    if not isinstance(y, torch.Tensor) or y.shape != (exit_logits.shape[1],):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must have shape ({exit_logits.shape[1]},), got {shape}")


def _costs_tensor(exit_costs, num_exits: int | None = None) -> torch.Tensor:
    costs = torch.as_tensor(exit_costs, dtype=torch.float64)
    if costs.ndim != 1 or (num_exits is not None and len(costs) != num_exits):
        raise ValueError(f"exit_costs must have shape ({num_exits if num_exits is not None else 'E'},), "
                         f"got {tuple(costs.shape)}")
    return costs


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Natural-log entropy of softmax(logits) over the last axis: (..., C) -> (...)."""
    _as_float_tensor(logits, "logits")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., C) with C >= 1, got {tuple(logits.shape)}")
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


@torch.no_grad()
def early_exit_inference(model: nn.Module, X: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample early exit with batch compaction; returns preds (N,) and exit_index (N,) in input order."""
    for attr in ("stem", "stages", "exits"):
        if not hasattr(model, attr):
            raise TypeError(f"model needs .stem, .stages and .exits; {type(model).__name__} has no .{attr}")
    _as_float_tensor(X, "X")
    if X.ndim != 4:
        raise ValueError(f"X must have shape (N, C, H, W), got {tuple(X.shape)}")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or math.isnan(threshold):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    model.eval()
    n = X.shape[0]
    preds = torch.full((n,), -1, dtype=torch.long, device=X.device)
    exit_index = torch.full((n,), -1, dtype=torch.long, device=X.device)
    alive = torch.arange(n, device=X.device)
    h = model.stem(X)
    num_exits = len(model.exits)
    for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
        if alive.numel() == 0:
            break
        h = stage(h)
        logits = head(h)
        if k == num_exits - 1:
            leave = torch.ones(len(alive), dtype=torch.bool, device=X.device)
        else:
            leave = entropy(logits) < threshold
        preds[alive[leave]] = logits[leave].argmax(dim=1)
        exit_index[alive[leave]] = k
        alive, h = alive[~leave], h[~leave]
    return preds, exit_index


def exit_costs_from_parts(stage_costs: Sequence[float], head_costs: Sequence[float]) -> torch.Tensor:
    """Cumulative cost of leaving at each exit: stages 0..k plus heads 0..k, float64 (E,)."""
    stages = torch.as_tensor(stage_costs, dtype=torch.float64)
    heads = torch.as_tensor(head_costs, dtype=torch.float64)
    if stages.ndim != 1 or len(stages) == 0:
        raise ValueError(f"stage_costs must have shape (E,), got {tuple(stages.shape)}")
    if heads.shape != stages.shape:
        raise ValueError(f"head_costs must have shape ({len(stages)},), got {tuple(heads.shape)}")
    if (stages < 0).any() or (heads < 0).any():
        raise ValueError("costs must be non-negative")
    return torch.cumsum(stages + heads, dim=0)


def expected_cost(exit_index: torch.Tensor, exit_costs: Sequence[float]) -> float:
    """Mean cost per sample: the average of exit_costs[exit_index[i]] over samples."""
    if not isinstance(exit_index, torch.Tensor) or exit_index.ndim != 1 or exit_index.numel() == 0:
        raise ValueError("exit_index must be a non-empty tensor of shape (N,)")
    if torch.is_floating_point(exit_index):
        raise TypeError(f"exit_index must hold integers, got dtype {exit_index.dtype}")
    costs = _costs_tensor(exit_costs)
    if int(exit_index.min()) < 0 or int(exit_index.max()) >= len(costs):
        raise ValueError(f"exit_index values must lie in [0, {len(costs) - 1}]")
    return float(costs[exit_index.long().cpu()].mean())


def _exit_choice(exit_entropy: torch.Tensor, threshold: float) -> torch.Tensor:
    """First exit whose entropy (E, N) is below the threshold (the last exit if none), per sample."""
    leave = exit_entropy < threshold
    leave[-1] = True
    return leave.to(torch.int8).argmax(dim=0)


def threshold_sweep(exit_logits: torch.Tensor, y: torch.Tensor, thresholds: Sequence[float],
                    exit_costs: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Offline early exit for each threshold: accuracy (T,) and mean cost (T,), float64."""
    _check_exit_logits(exit_logits, y)
    costs = _costs_tensor(exit_costs, exit_logits.shape[0])
    ths = torch.as_tensor(thresholds, dtype=torch.float64)
    if ths.ndim != 1 or len(ths) == 0:
        raise ValueError(f"thresholds must have shape (T,), got {tuple(ths.shape)}")
    correct = exit_logits.argmax(dim=-1) == y  # (E, N)
    exit_entropy = entropy(exit_logits)
    accs, mean_costs = [], []
    for t in ths.tolist():
        k = _exit_choice(exit_entropy, t)
        accs.append(correct.gather(0, k[None].long())[0].double().mean())
        mean_costs.append(costs[k.long()].mean())
    return torch.stack(accs), torch.stack(mean_costs)


def choose_threshold(val_logits: torch.Tensor, val_y: torch.Tensor, test_logits: torch.Tensor,
                     test_y: torch.Tensor, thresholds: Sequence[float], exit_costs: Sequence[float],
                     budget: float = 0.005) -> dict:
    """Cheapest threshold within `budget` of the final exit's val accuracy, chosen on val; one test report."""
    _check_exit_logits(val_logits, val_y, "val_logits")
    _check_exit_logits(test_logits, test_y, "test_logits")
    if not 0 <= budget < 1:
        raise ValueError(f"budget is a fraction of accuracy in [0, 1), got {budget!r}")
    ths = torch.as_tensor(thresholds, dtype=torch.float64)
    val_acc, val_cost = threshold_sweep(val_logits, val_y, ths, exit_costs)
    final_acc = float((val_logits[-1].argmax(-1) == val_y).double().mean())
    ok = val_acc >= final_acc - budget - 1e-12
    if not ok.any():
        raise ValueError("no threshold meets the accuracy budget; include 0.0 (everyone at the final exit)")
    cost = torch.where(ok, val_cost, torch.full_like(val_cost, math.inf))
    i = int(torch.argmin(cost))
    threshold = float(ths[i])
    test_acc, test_cost = threshold_sweep(test_logits, test_y, [threshold], exit_costs)
    return {"threshold": threshold, "val_acc": float(val_acc[i]), "val_cost": float(val_cost[i]),
            "test_acc": float(test_acc[0]), "test_cost": float(test_cost[0])}


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Temperature T > 0 minimising the mean NLL of softmax(logits / T) on (validation) data."""
    _as_float_tensor(logits, "logits")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    if not isinstance(y, torch.Tensor) or y.shape != (logits.shape[0],):
        raise ValueError(f"y must have shape ({logits.shape[0]},)")
    z = logits.detach().double()
    # NLL is convex in beta = 1/T; its derivative is E_p[z] - z_y averaged. Bisect on log(beta).
    def grad(beta: float) -> float:
        p = torch.softmax(beta * z, dim=1)
        return float(((p * z).sum(1) - z.gather(1, y[:, None].long())[:, 0]).mean())
    lo, hi = math.log(1e-4), math.log(1e4)
    if grad(math.exp(lo)) > 0:
        return 1.0 / math.exp(lo)
    if grad(math.exp(hi)) < 0:
        return 1.0 / math.exp(hi)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if grad(math.exp(mid)) < 0:
            lo = mid
        else:
            hi = mid
    return float(1.0 / math.exp(0.5 * (lo + hi)))


def overthinking(exit_logits: torch.Tensor, y: torch.Tensor) -> dict:
    """Oracle exit (first correct exit, else the last), wasteful and destructive fractions of all samples."""
    _check_exit_logits(exit_logits, y)
    correct = exit_logits.argmax(dim=-1) == y  # (E, N)
    num_exits = correct.shape[0]
    any_correct = correct.any(dim=0)
    first = correct.to(torch.int8).argmax(dim=0).long()
    oracle = torch.where(any_correct, first, torch.full_like(first, num_exits - 1))
    wasteful = float((oracle < num_exits - 1).double().mean())
    destructive = float((any_correct & ~correct[-1]).double().mean())
    return {"oracle_exit": oracle, "wasteful": wasteful, "destructive": destructive}


def _raw_confusion(exit_logits: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(exit_logits.double(), dim=-1)
    return (p - p[-1:]).abs().sum(dim=-1).sum(dim=0)


def confusion_scores(exit_logits: torch.Tensor, train_exit_logits: torch.Tensor) -> torch.Tensor:
    """SDN confusion: sum over exits of ||p_k - p_final||_1, z-scored with the training set's mean/std."""
    for name, value in (("exit_logits", exit_logits), ("train_exit_logits", train_exit_logits)):
        _as_float_tensor(value, name)
        if value.ndim != 3:
            raise ValueError(f"{name} must have shape (E, N, C), got {tuple(value.shape)}")
    if train_exit_logits.shape[0] != exit_logits.shape[0] or train_exit_logits.shape[2] != exit_logits.shape[2]:
        raise ValueError("train_exit_logits must have the same number of exits and classes as exit_logits")
    if train_exit_logits.shape[1] < 2:
        raise ValueError("train_exit_logits needs at least 2 samples for a standard deviation")
    train = _raw_confusion(train_exit_logits)
    return (_raw_confusion(exit_logits) - train.mean()) / train.std()
