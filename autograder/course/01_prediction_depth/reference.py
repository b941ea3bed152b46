"""Reference implementations of 01_prediction_depth's graded functions (same names and signatures)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def extract_representations(model: nn.Module, X: torch.Tensor, batch_size: int = 256,
                            pool_size: int = 4) -> list[torch.Tensor]:
    """Probe representations of X: input, stem, every residual block, softmax; each (N, D_l) float32 on the CPU."""
    if not isinstance(X, torch.Tensor) or X.ndim != 4 or not torch.is_floating_point(X):
        raise ValueError(f"X must be a float tensor of shape (N, C, H, W), got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    if X.shape[1] != model.in_channels:
        raise ValueError(f"X must have {model.in_channels} channels (shape (N, {model.in_channels}, H, W)), "
                         f"got {tuple(X.shape)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(pool_size, int) or pool_size < 1:
        raise ValueError(f"pool_size must be a positive int, got {pool_size!r}")

    def flat(h: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(h, pool_size).flatten(1)

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    chunks: list[list[torch.Tensor]] = []
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                x = X[start:start + batch_size].to(device)
                h = model.stem(x)
                reps = [flat(x), flat(h)]
                for block in model.blocks():
                    h = block(h)
                    reps.append(flat(h))
                reps.append(torch.softmax(model.classifier(h), dim=1))
                chunks.append([r.float().cpu() for r in reps])
    finally:
        model.train(was_training)
    return [torch.cat([c[l] for c in chunks]) for l in range(len(chunks[0]))]


def knn_probe_predictions(support_feats: torch.Tensor, support_labels: torch.Tensor, query_feats: torch.Tensor,
                          k: int = 30, exclude_self: bool = False) -> torch.Tensor:
    """k-NN (uniform vote, Euclidean) predictions for the queries; exclude_self: queries are the support set."""
    from sklearn.neighbors import KNeighborsClassifier

    if not isinstance(support_feats, torch.Tensor) or support_feats.ndim != 2:
        raise ValueError("support_feats must be a tensor of shape (M, D)")
    m, d = support_feats.shape
    if not isinstance(support_labels, torch.Tensor) or tuple(support_labels.shape) != (m,):
        raise ValueError(f"support_labels must have shape ({m},) to match support_feats")
    if not isinstance(query_feats, torch.Tensor) or query_feats.ndim != 2 or query_feats.shape[1] != d:
        raise ValueError(f"query_feats must have shape (N, {d}) to match support_feats")
    if exclude_self and tuple(query_feats.shape) != (m, d):
        raise ValueError("with exclude_self=True the queries must be the support set: query_feats must have "
                         f"shape ({m}, {d})")
    limit = m - 1 if exclude_self else m
    if not isinstance(k, int) or not 1 <= k <= limit:
        raise ValueError(f"k must be an int between 1 and {limit}, got {k!r}")
    clf = KNeighborsClassifier(n_neighbors=k)
    clf.fit(support_feats.detach().cpu().double().numpy(), support_labels.detach().cpu().numpy())
    if exclude_self:
        pred = clf.predict(None)  # each support point's neighbours, without the point itself
    else:
        pred = clf.predict(query_feats.detach().cpu().double().numpy())
    return torch.as_tensor(np.asarray(pred), dtype=torch.long)


def prediction_depth(probe_preds: torch.Tensor, final_pred: torch.Tensor) -> torch.Tensor:
    """Earliest layer index from which every probe agrees with final_pred; L when even the last one disagrees."""
    if not isinstance(probe_preds, torch.Tensor) or probe_preds.ndim != 2:
        raise ValueError("probe_preds must be a tensor of shape (L, N)")
    num_layers, n = probe_preds.shape
    if not isinstance(final_pred, torch.Tensor) or tuple(final_pred.shape) != (n,):
        raise ValueError(f"final_pred must have shape ({n},) to match probe_preds (L, N)")
    agree = probe_preds.long() == final_pred.long().unsqueeze(0)
    trailing = agree.flip(0).long().cumprod(0).sum(0)  # number of agreeing probes at the end
    return (num_layers - trailing).long()


def depth_analysis(depths: torch.Tensor, confidence: torch.Tensor, correct: torch.Tensor,
                   num_depths: int | None = None) -> dict:
    """Spearman correlation of depth and confidence, and count, accuracy and mean confidence per depth."""
    from scipy.stats import spearmanr

    if not isinstance(depths, torch.Tensor) or depths.ndim != 1 or torch.is_floating_point(depths):
        raise ValueError("depths must be an integer tensor of shape (N,)")
    n = depths.shape[0]
    if n < 3:
        raise ValueError("depth_analysis needs at least 3 examples")
    if not isinstance(confidence, torch.Tensor) or tuple(confidence.shape) != (n,):
        raise ValueError(f"confidence must have shape ({n},) to match depths")
    if not isinstance(correct, torch.Tensor) or tuple(correct.shape) != (n,):
        raise ValueError(f"correct must have shape ({n},) to match depths")
    if int(depths.min()) < 0:
        raise ValueError("depths must be non-negative")
    size = int(depths.max()) + 1 if num_depths is None else int(num_depths)
    if size < int(depths.max()) + 1:
        raise ValueError(f"num_depths={num_depths} is smaller than the largest depth + 1")
    rho, p = spearmanr(depths.numpy(), confidence.double().numpy())
    idx = depths.long()
    count = torch.bincount(idx, minlength=size)
    hits = torch.bincount(idx, weights=correct.double(), minlength=size)
    conf = torch.bincount(idx, weights=confidence.double(), minlength=size)
    safe = count.clamp(min=1).double()
    empty = count == 0
    accuracy = torch.where(empty, torch.nan, hits / safe)
    mean_conf = torch.where(empty, torch.nan, conf / safe)
    return {"spearman_rho": float(rho), "p_value": float(p), "count": count,
            "accuracy": accuracy, "mean_confidence": mean_conf}
