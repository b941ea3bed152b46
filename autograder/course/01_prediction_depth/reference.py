"""GENERATED from solutions/01_prediction_depth.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""

import numpy as np

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from sklearn.neighbors import KNeighborsClassifier
from torch import nn


# cell 01-07
def extract_representations(
    model: nn.Module, X: torch.Tensor, batch_size: int = 256, pool_size: int | None = 4
) -> list[torch.Tensor]:
    """Representations of X after every probe layer of a cl.models.ResNet.

    Args:
        model: a ResNet with `stem`, `blocks()` and `classifier` (any mode; restored on return).
        X: images, float tensor of shape (N, C, H, W) with C == model.in_channels.
        batch_size: examples per forward pass.
        pool_size: spatial maps are average-pooled to pool_size x pool_size before flattening; None keeps them whole.
    Returns:
        A list of float32 CPU tensors, one per layer, in order: input (N, C*p*p), stem (N, C_stem*p*p),
        each residual block (N, C_b*p*p), softmax output (N, num_classes); with pool_size=None, p*p is the map's H*W.
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 4 or not torch.is_floating_point(X):
        raise ValueError(
            f"X must be a float tensor of shape (N, C, H, W), got "
            f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}"
        )
    if X.shape[1] != model.in_channels:
        raise ValueError(
            f"X must have shape (N, {model.in_channels}, H, W) for this model, got {tuple(X.shape)}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if pool_size is not None and (not isinstance(pool_size, int) or pool_size < 1):
        raise ValueError(f"pool_size must be a positive int or None, got {pool_size!r}")

    def pooled(h):
        return (h if pool_size is None else F.adaptive_avg_pool2d(h, pool_size)).flatten(1)

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    per_batch = []
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                x = X[start : start + batch_size].to(device)
                h = model.stem(x)
                reps = [pooled(x), pooled(h)]
                for block in model.blocks():
                    h = block(h)
                    reps.append(pooled(h))
                reps.append(torch.softmax(model.classifier(h), dim=1))
                per_batch.append([r.float().cpu() for r in reps])
    finally:
        model.train(was_training)
    return [torch.cat([reps[layer] for reps in per_batch]) for layer in range(len(per_batch[0]))]


# cell 01-10
def knn_probe_predictions(
    support_feats: torch.Tensor,
    support_labels: torch.Tensor,
    query_feats: torch.Tensor,
    k: int = 30,
    exclude_self: bool = False,
) -> torch.Tensor:
    """k-NN probe: majority vote of the k nearest support points (Euclidean) for every query.

    Args:
        support_feats: (M, D) float features the probe is fitted on.
        support_labels: (M,) integer labels of the support points.
        query_feats: (N, D) float features to classify; with exclude_self=True it must be the support set (N == M).
        k: number of neighbours.
        exclude_self: leave each query out of its own neighbours (queries == support set).
    Returns:
        (N,) int64 tensor of predicted labels.
    """
    if not isinstance(support_feats, torch.Tensor) or support_feats.ndim != 2:
        raise ValueError("support_feats must be a tensor of shape (M, D)")
    m, d = support_feats.shape
    if not isinstance(support_labels, torch.Tensor) or tuple(support_labels.shape) != (m,):
        raise ValueError(f"support_labels must have shape ({m},) to match support_feats")
    if (
        not isinstance(query_feats, torch.Tensor)
        or query_feats.ndim != 2
        or query_feats.shape[1] != d
    ):
        raise ValueError(f"query_feats must have shape (N, {d}) to match support_feats")
    if exclude_self and tuple(query_feats.shape) != (m, d):
        raise ValueError(
            f"with exclude_self=True, query_feats must be the support set, shape ({m}, {d})"
        )
    largest = m - 1 if exclude_self else m
    if not isinstance(k, int) or not 1 <= k <= largest:
        raise ValueError(f"k must be an int between 1 and {largest}, got {k!r}")
    probe = KNeighborsClassifier(n_neighbors=k)
    probe.fit(support_feats.detach().cpu().double().numpy(), support_labels.detach().cpu().numpy())
    if exclude_self:
        predicted = probe.predict(
            None
        )  # neighbours of every fitted point, the point itself left out
    else:
        predicted = probe.predict(query_feats.detach().cpu().double().numpy())
    return torch.as_tensor(np.asarray(predicted), dtype=torch.long)


# cell 01-13
def prediction_depth(probe_preds: torch.Tensor, final_pred: torch.Tensor) -> torch.Tensor:
    """Prediction depth of every example.

    Args:
        probe_preds: (L, N) integer predictions of the probes at layers 0..L-1.
        final_pred: (N,) the network's final predicted class of every example.
    Returns:
        (N,) int64: the smallest l such that the probes at all layers l..L-1 agree with final_pred
        (0 when all agree; L when the last probe disagrees).
    """
    if not isinstance(probe_preds, torch.Tensor) or probe_preds.ndim != 2:
        raise ValueError("probe_preds must be a tensor of shape (L, N)")
    num_layers, n = probe_preds.shape
    if not isinstance(final_pred, torch.Tensor) or tuple(final_pred.shape) != (n,):
        raise ValueError(f"final_pred must have shape ({n},): one entry per column of probe_preds")
    agree = probe_preds.long() == final_pred.long().unsqueeze(0)
    # length of the run of agreeing probes at the end: walk back from the last layer with a cumulative product
    agreeing_tail = agree.flip(0).long().cumprod(dim=0).sum(dim=0)
    return (num_layers - agreeing_tail).long()


# cell 01-19
def depth_analysis(
    depths: torch.Tensor,
    confidence: torch.Tensor,
    correct: torch.Tensor,
    num_depths: int | None = None,
) -> dict:
    """Spearman correlation of depth vs confidence, and count, accuracy and mean confidence per depth.

    Args:
        depths: (N,) non-negative integer prediction depths.
        confidence: (N,) float confidence of the network's final prediction (e.g. max softmax probability).
        correct: (N,) bool (or 0/1) whether the final prediction is right.
        num_depths: length D of the per-depth tensors (default depths.max() + 1).
    Returns:
        {"spearman_rho": float, "p_value": float, "count": (D,) int64, "accuracy": (D,) float,
         "mean_confidence": (D,) float}, NaN accuracy/confidence for empty depths.
    """
    if not isinstance(depths, torch.Tensor) or depths.ndim != 1 or torch.is_floating_point(depths):
        raise ValueError("depths must be an integer tensor of shape (N,)")
    n = depths.shape[0]
    if n < 3:
        raise ValueError("depths needs at least 3 examples for a correlation")
    if not isinstance(confidence, torch.Tensor) or tuple(confidence.shape) != (n,):
        raise ValueError(f"confidence must have shape ({n},) to match depths")
    if not isinstance(correct, torch.Tensor) or tuple(correct.shape) != (n,):
        raise ValueError(f"correct must have shape ({n},) to match depths")
    if int(depths.min()) < 0:
        raise ValueError("depths must be non-negative")
    size = int(depths.max()) + 1 if num_depths is None else int(num_depths)
    if size < int(depths.max()) + 1:
        raise ValueError(f"num_depths={num_depths} is smaller than the largest depth + 1")
    rho, p_value = spearmanr(depths.numpy(), confidence.double().numpy())
    index = depths.long()
    count = torch.bincount(index, minlength=size)
    hits = torch.bincount(index, weights=correct.double(), minlength=size)
    conf_sum = torch.bincount(index, weights=confidence.double(), minlength=size)
    denominator = count.clamp(min=1).double()
    empty = count == 0
    return {
        "spearman_rho": float(rho),
        "p_value": float(p_value),
        "count": count,
        "accuracy": torch.where(empty, torch.nan, hits / denominator),
        "mean_confidence": torch.where(empty, torch.nan, conf_sum / denominator),
    }
