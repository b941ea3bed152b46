"""Known-wrong implementations for 01_prediction_depth; each must fail the hidden tests it targets."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from autograder import content
from autograder.suite import Mutant

ref = content.load("01_prediction_depth", "reference")


# ---- extract_representations ------------------------------------------------------------------


def extract_train_mode(model, X, batch_size=256, pool_size=4):
    """Features taken with BatchNorm in train mode (batch statistics, running stats updated)."""
    was = model.training
    model.train()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            x = X[start : start + batch_size]
            h = model.stem(x)
            reps = [F.adaptive_avg_pool2d(x, pool_size).flatten(1), F.adaptive_avg_pool2d(h, pool_size).flatten(1)]
            for block in model.blocks():
                h = block(h)
                reps.append(F.adaptive_avg_pool2d(h, pool_size).flatten(1))
            reps.append(torch.softmax(model.classifier(h), 1))
            out.append(reps)
    model.train(was)
    return [torch.cat([o[level] for o in out]) for level in range(len(out[0]))]


def extract_no_restore(model, X, batch_size=256, pool_size=4):
    """Correct features, but the model is left in eval mode."""
    out = ref.extract_representations(model, X, batch_size=batch_size, pool_size=pool_size)
    model.eval()
    return out


def extract_no_input_layer(model, X, batch_size=256, pool_size=4):
    """Forgets the input as layer 0."""
    return ref.extract_representations(model, X, batch_size=batch_size, pool_size=pool_size)[1:]


def extract_logits_not_softmax(model, X, batch_size=256, pool_size=4):
    """Last representation is the logits instead of the softmax output."""
    reps = ref.extract_representations(model, X, batch_size=batch_size, pool_size=pool_size)
    reps[-1] = torch.log(reps[-1])  # logits up to a per-row constant
    return reps


def extract_wrong_order(model, X, batch_size=256, pool_size=4):
    """Layers returned deepest first."""
    return ref.extract_representations(model, X, batch_size=batch_size, pool_size=pool_size)[::-1]


def extract_drops_last_batch(model, X, batch_size=256, pool_size=4):
    """Only full batches are processed (the remainder is lost)."""
    keep = (len(X) // batch_size) * batch_size or len(X)
    return ref.extract_representations(model, X[:keep], batch_size=batch_size, pool_size=pool_size)


def extract_unpooled_means_default(model, X, batch_size=256, pool_size=4):
    """pool_size=None read as "use the default": the maps are pooled to 4 x 4 instead of kept whole."""
    return ref.extract_representations(model, X, batch_size=batch_size, pool_size=4 if pool_size is None else pool_size)


def extract_no_validation(model, X, batch_size=256, pool_size=4):
    """No input check: a wrong channel count surfaces as a RuntimeError deep inside a conv."""
    if X.ndim == 4 and X.shape[1] != model.in_channels:
        raise RuntimeError("conv2d: expected input with a different number of channels")
    return ref.extract_representations(model, X, batch_size=batch_size, pool_size=pool_size)


# ---- knn_probe_predictions --------------------------------------------------------------------


def knn_self_included(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """Ignores exclude_self: each training point votes for itself."""
    return ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k, exclude_self=False)


def knn_drop_nearest_always(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """Always drops the nearest neighbour, even for held-out queries."""
    from sklearn.neighbors import NearestNeighbors

    nn_ = NearestNeighbors(n_neighbors=k + 1).fit(support_feats.numpy())
    _, idx = nn_.kneighbors(query_feats.numpy())
    labels = support_labels.numpy()[idx[:, 1:]]
    return torch.as_tensor([np.bincount(row).argmax() for row in labels], dtype=torch.long)


def knn_distance_weighted(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """Distance-weighted votes (weights="distance") instead of one vote per neighbour."""
    from sklearn.neighbors import KNeighborsClassifier

    ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k, exclude_self=exclude_self)  # checks
    clf = KNeighborsClassifier(n_neighbors=k, weights="distance")
    clf.fit(support_feats.double().numpy(), support_labels.numpy())
    out = clf.predict(None) if exclude_self else clf.predict(query_feats.double().numpy())
    return torch.as_tensor(np.asarray(out), dtype=torch.long)


def _neighbour_labels(support_feats, support_labels, query_feats, k, exclude_self):
    """Labels of the k nearest support points of every query, nearest first (leave-one-out by index)."""
    from sklearn.neighbors import NearestNeighbors

    nn_ = NearestNeighbors(n_neighbors=k).fit(support_feats.double().numpy())
    _, idx = nn_.kneighbors(None if exclude_self else query_feats.double().numpy())
    return support_labels.numpy()[idx]


def knn_ties_to_nearest(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """Counter(...).most_common(1): a tie between classes goes to the class met first (nearest), not the smallest."""
    from collections import Counter

    ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k, exclude_self=exclude_self)  # checks
    labels = _neighbour_labels(support_feats, support_labels, query_feats, k, exclude_self)
    return torch.as_tensor([Counter(row.tolist()).most_common(1)[0][0] for row in labels], dtype=torch.long)


def knn_loo_drops_distance_zero(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """Leave-one-out by distance: every neighbour at distance 0 is dropped, an identical copy of the point too."""
    from sklearn.neighbors import NearestNeighbors

    if not exclude_self:
        return ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k)
    ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k, exclude_self=True)  # checks
    m = len(support_feats)
    dist, idx = NearestNeighbors(n_neighbors=m - 1).fit(support_feats.double().numpy()).kneighbors()
    labels = support_labels.numpy()
    out = []
    for d_row, i_row in zip(dist, idx):
        kept = i_row[d_row > 0][:k]
        out.append(int(np.bincount(labels[kept]).argmax()))
    return torch.as_tensor(out, dtype=torch.long)


def knn_default_k5(support_feats, support_labels, query_feats, k=5, exclude_self=False):
    """Default k of 5 instead of 30."""
    return ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k, exclude_self=exclude_self)


def knn_float_output(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """Returns float predictions of shape (N, 1)."""
    out = ref.knn_probe_predictions(support_feats, support_labels, query_feats, k=k, exclude_self=exclude_self)
    return out.float().unsqueeze(1)


def knn_no_validation(support_feats, support_labels, query_feats, k=30, exclude_self=False):
    """No input checks: mismatched lengths slip through or fail with another error type."""
    from sklearn.neighbors import KNeighborsClassifier

    n = min(len(support_feats), len(support_labels))
    clf = KNeighborsClassifier(n_neighbors=k).fit(support_feats[:n].numpy(), support_labels[:n].numpy())
    if exclude_self:
        return torch.as_tensor(clf.predict(None), dtype=torch.long)
    try:
        return torch.as_tensor(clf.predict(query_feats.numpy()), dtype=torch.long)
    except ValueError as err:
        raise RuntimeError(str(err)) from None


# ---- prediction_depth -------------------------------------------------------------------------


def depth_first_agreement(probe_preds, final_pred):
    """'First layer that agrees' instead of 'all later layers agree'."""
    agree = probe_preds == final_pred[None]
    first = agree.long().argmax(0)
    return torch.where(agree.any(0), first, torch.full_like(first, probe_preds.shape[0])).long()


def depth_minus_one(probe_preds, final_pred):
    """Off by one: the index of the last disagreeing probe (-1 when all agree)."""
    return ref.prediction_depth(probe_preds, final_pred) - 1


def depth_plus_one(probe_preds, final_pred):
    """Off by one: depths counted from 1."""
    return ref.prediction_depth(probe_preds, final_pred) + 1


def depth_clipped(probe_preds, final_pred):
    """Never returns L: a sample whose last probe disagrees gets L-1."""
    return ref.prediction_depth(probe_preds, final_pred).clamp(max=probe_preds.shape[0] - 1)


def depth_against_other_labels(probe_preds, final_pred):
    """Compares with another label vector (the last probe's vote) instead of the network's final prediction."""
    if probe_preds.ndim != 2 or final_pred.shape != (probe_preds.shape[1],):
        raise ValueError("bad shapes")
    return ref.prediction_depth(probe_preds, probe_preds[-1])


def depth_float(probe_preds, final_pred):
    """Returns float depths."""
    return ref.prediction_depth(probe_preds, final_pred).float()


def depth_no_validation(probe_preds, final_pred):
    """No shape checks (broadcasting errors surface as RuntimeError)."""
    if probe_preds.ndim == 1:
        probe_preds = probe_preds[None]
    agree = probe_preds == final_pred[None]
    return (probe_preds.shape[0] - agree.flip(0).long().cumprod(0).sum(0)).long()


# ---- depth_analysis ---------------------------------------------------------------------------


def analysis_pearson(depths, confidence, correct, num_depths=None):
    """Pearson instead of Spearman."""
    from scipy.stats import pearsonr

    out = ref.depth_analysis(depths, confidence, correct, num_depths)
    r, p = pearsonr(depths.double().numpy(), confidence.double().numpy())
    out.update(spearman_rho=float(r), p_value=float(p))
    return out


def analysis_ordinal_ranks(depths, confidence, correct, num_depths=None):
    """Ranks ties by position instead of averaging them."""
    from scipy.stats import pearsonr

    out = ref.depth_analysis(depths, confidence, correct, num_depths)
    rd = np.argsort(np.argsort(depths.numpy(), kind="stable"))
    rc = np.argsort(np.argsort(confidence.numpy(), kind="stable"))
    r, p = pearsonr(rd, rc)
    out.update(spearman_rho=float(r), p_value=float(p))
    return out


def analysis_one_sided(depths, confidence, correct, num_depths=None):
    """One-sided p-value."""
    out = ref.depth_analysis(depths, confidence, correct, num_depths)
    out["p_value"] = out["p_value"] / 2
    return out


def analysis_share_of_all(depths, confidence, correct, num_depths=None):
    """Accuracy per depth divided by all examples instead of the examples at that depth."""
    out = ref.depth_analysis(depths, confidence, correct, num_depths)
    hits = out["accuracy"] * out["count"]
    out["accuracy"] = hits / len(depths)
    return out


def analysis_ignores_num_depths(depths, confidence, correct, num_depths=None):
    """Per-depth arrays always have max(depth)+1 entries."""
    return ref.depth_analysis(depths, confidence, correct)


def analysis_zero_for_empty(depths, confidence, correct, num_depths=None):
    """Empty depths get accuracy 0 instead of NaN."""
    out = ref.depth_analysis(depths, confidence, correct, num_depths)
    out["accuracy"] = torch.nan_to_num(out["accuracy"], nan=0.0)
    return out


MUTANTS = [
    Mutant(
        "features in train mode",
        ("extract_in_eval_mode", "extract_restores_mode"),
        {"extract_representations": extract_train_mode},
    ),
    Mutant("model left in eval mode", ("extract_restores_mode",), {"extract_representations": extract_no_restore}),
    Mutant("input layer missing", ("extract_layers_in_order",), {"extract_representations": extract_no_input_layer}),
    Mutant(
        "logits instead of softmax",
        ("extract_layers_in_order",),
        {"extract_representations": extract_logits_not_softmax},
    ),
    Mutant("layers in reverse order", ("extract_layers_in_order",), {"extract_representations": extract_wrong_order}),
    Mutant(
        "last partial batch dropped",
        ("extract_layers_in_order",),
        {"extract_representations": extract_drops_last_batch},
    ),
    Mutant(
        "pool_size=None pools to 4 x 4",
        ("extract_layers_in_order",),
        {"extract_representations": extract_unpooled_means_default},
    ),
    Mutant(
        "no ValueError for wrong channels",
        ("extract_layers_in_order",),
        {"extract_representations": extract_no_validation},
    ),
    Mutant("query is its own neighbour", ("knn_excludes_query_itself",), {"knn_probe_predictions": knn_self_included}),
    Mutant(
        "nearest neighbour always dropped", ("knn_majority_vote",), {"knn_probe_predictions": knn_drop_nearest_always}
    ),
    Mutant("distance-weighted votes", ("knn_majority_vote",), {"knn_probe_predictions": knn_distance_weighted}),
    Mutant(
        "ties go to the nearest class (Counter.most_common)",
        ("knn_majority_vote",),
        {"knn_probe_predictions": knn_ties_to_nearest},
    ),
    Mutant(
        "leave-one-out drops identical copies",
        ("knn_excludes_query_itself",),
        {"knn_probe_predictions": knn_loo_drops_distance_zero},
    ),
    Mutant("default k is 5", ("knn_default_k_and_errors",), {"knn_probe_predictions": knn_default_k5}),
    Mutant(
        "float (N,1) output",
        ("knn_majority_vote", "knn_excludes_query_itself", "knn_default_k_and_errors"),
        {"knn_probe_predictions": knn_float_output},
    ),
    Mutant(
        "k-NN without input validation", ("knn_default_k_and_errors",), {"knn_probe_predictions": knn_no_validation}
    ),
    Mutant(
        "first agreeing layer",
        ("depth_requires_all_later_layers", "depth_index_convention"),
        {"prediction_depth": depth_first_agreement},
    ),
    Mutant(
        "depth off by one (-1)",
        ("depth_requires_all_later_layers", "depth_index_convention"),
        {"prediction_depth": depth_minus_one},
    ),
    Mutant(
        "depth off by one (+1)",
        ("depth_requires_all_later_layers", "depth_index_convention"),
        {"prediction_depth": depth_plus_one},
    ),
    Mutant(
        "depth clipped at L-1",
        ("depth_requires_all_later_layers", "depth_index_convention"),
        {"prediction_depth": depth_clipped},
    ),
    Mutant(
        "compared with other labels, not the network prediction",
        ("depth_target_is_final_prediction",),
        {"prediction_depth": depth_against_other_labels},
    ),
    Mutant("float depths", ("depth_requires_all_later_layers",), {"prediction_depth": depth_float}),
    Mutant(
        "depth without shape checks", ("depth_target_is_final_prediction",), {"prediction_depth": depth_no_validation}
    ),
    Mutant("Pearson instead of Spearman", ("analysis_spearman",), {"depth_analysis": analysis_pearson}),
    Mutant("ordinal ranks for ties", ("analysis_spearman",), {"depth_analysis": analysis_ordinal_ranks}),
    Mutant("one-sided p-value", ("analysis_spearman",), {"depth_analysis": analysis_one_sided}),
    Mutant("accuracy as a share of all examples", ("analysis_per_depth",), {"depth_analysis": analysis_share_of_all}),
    Mutant("num_depths ignored", ("analysis_per_depth",), {"depth_analysis": analysis_ignores_num_depths}),
    Mutant("empty depths get accuracy 0", ("analysis_per_depth",), {"depth_analysis": analysis_zero_for_empty}),
]
