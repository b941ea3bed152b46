"""Hints for 01_prediction_depth (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "extract_representations": [
        "A probe needs one vector per example at every depth: the input itself, after the stem, after each "
        "residual block, and the softmax output. The network must behave as at test time while you read "
        "these (BatchNorm in eval mode, no gradients), and the caller's model must be left as it was.",
        "Remember model.training, switch to eval(), and walk the network by hand in batches: h = stem(x), "
        "then each block of model.blocks() in order, keeping a pooled copy of every intermediate tensor "
        "(adaptive average pooling to pool_size x pool_size, then flatten). The last entry is "
        "softmax(classifier(h)). Restore the original mode in a `finally` so an exception cannot leave the "
        "model in eval mode. Validate X: a float (N, C, H, W) tensor with the model's channel count.",
        "Per batch (moved to the model's device): run the stem, then each block of model.blocks() in turn. "
        "The batch's list starts with the pooled input and the pooled stem output, gets ____ after every "
        "block (the step that keeps this depth's vector), and ends with the softmax of the classifier's "
        "output over dim 1. After the batch loop, torch.cat each layer's chunks along dim 0: the result is a "
        "list with one (N, D_l) float32 CPU tensor per layer, in depth order.",
    ],
    "knn_probe_predictions": [
        "Each layer gets its own k-nearest-neighbour classifier fitted on the training representations; "
        "a query's prediction is the majority label among its k closest training points (k = 30 by default).",
        "scikit-learn's KNeighborsClassifier does the voting. The subtle part is exclude_self: when the "
        "queries *are* the training points, each point is its own nearest neighbour and would vote for "
        "its own label. Check the shapes of the three tensors and that 1 <= k <= the number of usable "
        "neighbours, and raise a ValueError otherwise.",
        "Fit on support_feats / support_labels (as numpy). For ordinary queries call predict on the query "
        "features. For exclude_self, scikit-learn's predict accepts X=None, meaning 'the training points, "
        "each without itself' - check its documentation. Return a long tensor of shape (N,).",
    ],
    "prediction_depth": [
        "Prediction depth is not the first layer whose probe agrees with the network: it is the first layer "
        "from which *every* later probe agrees with the network's final prediction (Baldock et al.).",
        "Build an (L, N) boolean table agree[l, i] = probe l predicts the final class for example i. "
        "Count, per example, how many probes at the *end* of the list agree without interruption; "
        "the depth is L minus that count (L when even the last probe disagrees).",
        "Build the (L, N) agreement table of probe_preds against final_pred (the network's prediction, not "
        "the true label). Reverse the layer axis (flip(0)) so the last probe comes first; trailing = ____ "
        "(per example, the length of the unbroken run of agreements at the start of the reversed table: a "
        "cumulative reduction over the layer axis of a 0/1 copy stays 1 only while every probe so far agreed, "
        "then a sum); the depth is L minus trailing, as a long tensor.",
    ],
    "depth_analysis": [
        "Summarise how depth relates to confidence and correctness: one rank correlation over all "
        "examples, and a few statistics for each depth value.",
        "Use scipy.stats.spearmanr on (depths, confidence) for rho and its p-value. For every depth "
        "0..num_depths-1 count the examples, their accuracy and their mean confidence; a depth with no "
        "examples gets NaN for the averages (not 0). Validate shapes and that depths are non-negative "
        "integers.",
        "torch.bincount(depths, weights=..., minlength=num_depths) gives per-depth sums in one call: "
        "once with no weights (counts), once weighted by correct, once by confidence; divide the sums by "
        "the counts and put NaN where the count is zero. Return a dict with spearman_rho, p_value, count, "
        "accuracy and mean_confidence.",
    ],
}
