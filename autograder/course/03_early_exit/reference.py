"""GENERATED from solutions/03_early_exit.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


# cell 03-10
def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Natural-log entropy of softmax(logits) over the last axis.

    Args:
        logits: float tensor (..., C), e.g. (N, C) for one exit or (E, N, C) for all exits.
    Returns:
        float tensor (...): one entropy per row, in nats, finite even when some probabilities are 0.
    Raises:
        TypeError if logits is not a float tensor; ValueError if it has no class axis.
    """
    if not isinstance(logits, torch.Tensor) or not torch.is_floating_point(logits):
        raise TypeError(f"logits must be a float tensor, got {type(logits).__name__}")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., C) with C >= 1, got {tuple(logits.shape)}")
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


# cell 03-15
def early_exit_inference(
    model: nn.Module, X: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample early exit: leave at the first exit whose softmax entropy is below `threshold`.

    Args:
        model: an early-exit network with `.stem`, `.stages` (one per exit) and `.exits` (heads), like
            cl.models.EarlyExitResNet; it is switched to eval mode.
        X: float tensor (N, C, H, W) on the model's device.
        threshold: entropy threshold in nats; a sample leaves exit k < E-1 if entropy < threshold.
    Returns:
        preds: int64 tensor (N,), the predicted class of each sample at the exit it took.
        exit_index: int64 tensor (N,), that exit's index in 0..E-1.
        Both in the original order of X. Samples that left are not processed by later stages or heads.
    Raises:
        TypeError for a model without stem/stages/exits; ValueError if X is not (N, C, H, W) or the threshold
        is not a number.
    """
    for attr in ("stem", "stages", "exits"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model needs .stem, .stages and .exits; {type(model).__name__} has no .{attr}"
            )
    if not isinstance(X, torch.Tensor) or X.ndim != 4:
        raise ValueError(
            f"X must be a tensor of shape (N, C, H, W), got {getattr(X, 'shape', type(X).__name__)}"
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or math.isnan(threshold)
    ):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    model.eval()
    n = X.shape[0]
    preds = torch.empty(n, dtype=torch.long, device=X.device)
    exit_index = torch.empty(n, dtype=torch.long, device=X.device)
    alive = torch.arange(
        n, device=X.device
    )  # original positions of the samples still in the network
    last = len(model.exits) - 1
    with torch.no_grad():
        h = model.stem(X)
        for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
            h = stage(h)
            logits = head(h)
            if k == last:
                leave = torch.ones(len(alive), dtype=torch.bool, device=X.device)
            else:
                leave = entropy(logits) < threshold
            preds[alive[leave]] = logits[leave].argmax(dim=1)
            exit_index[alive[leave]] = k
            alive, h = alive[~leave], h[~leave]
            if len(alive) == 0:
                break
    return preds, exit_index


# cell 03-18
def exit_costs_from_parts(stage_costs, head_costs) -> torch.Tensor:
    """Cumulative cost of leaving at each exit.

    Args:
        stage_costs: sequence of E non-negative numbers, the MACs of backbone stage k (stage 0 includes the stem).
        head_costs: sequence of E non-negative numbers, the MACs of exit head k.
    Returns:
        float64 tensor (E,): entry k = stages 0..k plus heads 0..k.
    Raises:
        ValueError if the sequences are empty, not 1-D, of different lengths or negative.
    """
    stages = torch.as_tensor(stage_costs, dtype=torch.float64)
    heads = torch.as_tensor(head_costs, dtype=torch.float64)
    if stages.ndim != 1 or len(stages) == 0:
        raise ValueError(f"stage_costs must have shape (E,), got {tuple(stages.shape)}")
    if heads.shape != stages.shape:
        raise ValueError(f"head_costs must have shape ({len(stages)},), got {tuple(heads.shape)}")
    if (stages < 0).any() or (heads < 0).any():
        raise ValueError("costs must be non-negative")
    return torch.cumsum(stages + heads, dim=0)


# cell 03-21
def expected_cost(exit_index: torch.Tensor, exit_costs) -> float:
    """Mean cost per sample given each sample's exit.

    Args:
        exit_index: int tensor (N,), values in 0..E-1.
        exit_costs: sequence or tensor (E,), the cumulative cost of leaving at each exit.
    Returns:
        Python float, the average of exit_costs[exit_index[i]] over the N samples.
    Raises:
        ValueError for an empty or non-1-D exit_index or an index outside 0..E-1; TypeError for float indices.
    """
    if not isinstance(exit_index, torch.Tensor) or exit_index.ndim != 1 or exit_index.numel() == 0:
        raise ValueError("exit_index must be a non-empty tensor of shape (N,)")
    if torch.is_floating_point(exit_index):
        raise TypeError(f"exit_index must hold integers, got dtype {exit_index.dtype}")
    table = torch.as_tensor(exit_costs, dtype=torch.float64)
    if table.ndim != 1:
        raise ValueError(f"exit_costs must have shape (E,), got {tuple(table.shape)}")
    if int(exit_index.min()) < 0 or int(exit_index.max()) >= len(table):
        raise ValueError(f"exit_index values must lie in 0..{len(table) - 1}")
    return float(table[exit_index.long().cpu()].mean())


# cell 03-24
def threshold_sweep(
    exit_logits: torch.Tensor, y: torch.Tensor, thresholds, exit_costs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Offline per-sample early exit for every threshold.

    Args:
        exit_logits: float tensor (E, N, C), every exit's logits for N samples.
        y: int64 tensor (N,), labels.
        thresholds: sequence of T entropy thresholds (nats).
        exit_costs: sequence (E,), cumulative cost of leaving at each exit.
    Returns:
        accuracy: float64 tensor (T,), the share of samples right at the exit they took;
        cost: float64 tensor (T,), the mean cost per sample.
    Raises:
        ValueError on shape mismatches.
    """
    if not isinstance(exit_logits, torch.Tensor) or exit_logits.ndim != 3:
        raise ValueError(
            f"exit_logits must have shape (E, N, C), got {getattr(exit_logits, 'shape', None)}"
        )
    num_exits, n, _ = exit_logits.shape
    if not isinstance(y, torch.Tensor) or y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {getattr(y, 'shape', None)}")
    table = torch.as_tensor(exit_costs, dtype=torch.float64)
    if table.shape != (num_exits,):
        raise ValueError(f"exit_costs must have shape ({num_exits},), got {tuple(table.shape)}")
    ths = torch.as_tensor(thresholds, dtype=torch.float64)
    if ths.ndim != 1 or len(ths) == 0:
        raise ValueError(f"thresholds must have shape (T,), got {tuple(ths.shape)}")
    correct = exit_logits.argmax(dim=-1) == y  # (E, N)
    h = entropy(exit_logits)  # (E, N)
    accuracy, cost = [], []
    for t in ths.tolist():
        leave = h < t
        leave[-1] = True  # the last exit takes everyone left
        k = leave.to(torch.int8).argmax(dim=0).long()  # first exit where the sample leaves
        accuracy.append(correct.gather(0, k[None])[0].double().mean())
        cost.append(table[k].mean())
    return torch.stack(accuracy), torch.stack(cost)


# cell 03-29
def choose_threshold(
    val_logits: torch.Tensor,
    val_y: torch.Tensor,
    test_logits: torch.Tensor,
    test_y: torch.Tensor,
    thresholds,
    exit_costs,
    budget: float = 0.005,
) -> dict:
    """Cheapest threshold within `budget` of the final exit's validation accuracy, then one test report.

    Args:
        val_logits, test_logits: float tensors (E, N_val, C) and (E, N_test, C).
        val_y, test_y: int64 tensors (N_val,) and (N_test,).
        thresholds: sequence of T candidate entropy thresholds.
        exit_costs: sequence (E,), cumulative cost of leaving at each exit.
        budget: allowed validation accuracy loss, as a fraction (0.005 = 0.5 percentage points).
    Returns:
        {"threshold", "val_acc", "val_cost", "test_acc", "test_cost"}: Python floats; the threshold is chosen on
        validation only, and the test numbers are those of that threshold.
    Raises:
        ValueError for a budget outside [0, 1) or when no threshold meets the budget.
    """
    if not 0 <= budget < 1:
        raise ValueError(f"budget is a fraction in [0, 1), got {budget!r}")
    ths = torch.as_tensor(thresholds, dtype=torch.float64)
    acc, cost = threshold_sweep(val_logits, val_y, ths, exit_costs)
    final_acc = float((val_logits[-1].argmax(-1) == val_y).double().mean())
    ok = acc >= final_acc - budget - 1e-12
    if not ok.any():
        raise ValueError("no threshold meets the accuracy budget; include 0.0 in the thresholds")
    i = int(torch.argmin(torch.where(ok, cost, torch.full_like(cost, math.inf))))
    threshold = float(ths[i])
    test_acc, test_cost = threshold_sweep(
        test_logits, test_y, [threshold], exit_costs
    )  # the one test report
    return {
        "threshold": threshold,
        "val_acc": float(acc[i]),
        "val_cost": float(cost[i]),
        "test_acc": float(test_acc[0]),
        "test_cost": float(test_cost[0]),
    }


# cell 03-34
def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Temperature T > 0 minimising the mean cross-entropy of softmax(logits / T) against y.

    Args:
        logits: float tensor (N, C) of one exit on the validation split.
        y: int64 tensor (N,), labels.
    Returns:
        T as a positive Python float.
    Raises:
        ValueError on shape mismatches.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {getattr(logits, 'shape', None)}")
    if not isinstance(y, torch.Tensor) or y.shape != (logits.shape[0],):
        raise ValueError(f"y must have shape ({logits.shape[0]},), got {getattr(y, 'shape', None)}")
    z = logits.detach().double()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [log_t],
        lr=0.5,
        max_iter=200,
        tolerance_grad=1e-10,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


# cell 03-39
def overthinking(exit_logits: torch.Tensor, y: torch.Tensor) -> dict:
    """Oracle first-correct exit and the wasteful / destructive overthinking fractions.

    Args:
        exit_logits: float tensor (E, N, C), y: int64 tensor (N,).
    Returns:
        {"oracle_exit": int64 tensor (N,), first exit whose prediction is right (E-1 if none is),
         "wasteful": float, share of samples whose oracle exit is before the last exit,
         "destructive": float, share of samples right at some exit but wrong at the last exit}.
    Raises:
        ValueError on shape mismatches.
    """
    if not isinstance(exit_logits, torch.Tensor) or exit_logits.ndim != 3:
        raise ValueError(
            f"exit_logits must have shape (E, N, C), got {getattr(exit_logits, 'shape', None)}"
        )
    if not isinstance(y, torch.Tensor) or y.shape != (exit_logits.shape[1],):
        raise ValueError(
            f"y must have shape ({exit_logits.shape[1]},), got {getattr(y, 'shape', None)}"
        )
    correct = exit_logits.argmax(dim=-1) == y  # (E, N)
    last = correct.shape[0] - 1
    ever = correct.any(dim=0)
    first = correct.to(torch.int8).argmax(dim=0).long()
    oracle = torch.where(ever, first, torch.full_like(first, last))
    return {
        "oracle_exit": oracle,
        "wasteful": float((oracle < last).double().mean()),
        "destructive": float((ever & ~correct[-1]).double().mean()),
    }


# cell 03-43
def confusion_scores(exit_logits: torch.Tensor, train_exit_logits: torch.Tensor) -> torch.Tensor:
    """Z-normalised SDN confusion: sum over exits of the L1 distance between each exit's softmax and the final one.

    Args:
        exit_logits: float tensor (E, N, C), the samples to score.
        train_exit_logits: float tensor (E, M, C), the training set (M >= 2) that fixes the mean and the std.
    Returns:
        float tensor (N,): (raw confusion - training mean) / training std.
    Raises:
        ValueError on shape mismatches.
    """
    for name, value in (("exit_logits", exit_logits), ("train_exit_logits", train_exit_logits)):
        if not isinstance(value, torch.Tensor) or value.ndim != 3:
            raise ValueError(
                f"{name} must have shape (E, N, C), got {getattr(value, 'shape', None)}"
            )
    if (
        exit_logits.shape[0] != train_exit_logits.shape[0]
        or exit_logits.shape[2] != train_exit_logits.shape[2]
    ):
        raise ValueError("both inputs need the same number of exits and classes")
    if train_exit_logits.shape[1] < 2:
        raise ValueError("train_exit_logits needs at least 2 samples")

    def raw(logits):
        p = torch.softmax(logits.double(), dim=-1)
        return (p - p[-1:]).abs().sum(dim=-1).sum(dim=0)

    train = raw(train_exit_logits)
    return (raw(exit_logits) - train.mean()) / train.std()
