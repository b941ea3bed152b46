"""Hints for 03_early_exit (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "entropy": [
        "Entropy of the predicted distribution, H = -sum_c p_c log p_c with the natural log, one value per "
        "sample: low entropy = confident = a candidate for leaving early.",
        "Work from log-probabilities rather than probabilities: log_softmax over the last axis is "
        "numerically safe, and p log p must be 0 (not NaN) where p underflows to 0. Accept any leading "
        "shape (..., C) and reduce only the class axis.",
        "log_p = F.log_softmax(logits, dim=-1); combine log_p.exp() and log_p, sum over dim=-1 and mind "
        "the sign. Do not use torch.log(torch.softmax(...)) and do not use log2.",
    ],
    "early_exit_inference": [
        "Each sample decides on its own: it leaves at the first exit whose entropy is below the threshold "
        "(the last exit takes everyone left). Samples that left must not be computed any further - that "
        "is where the saving comes from.",
        "Put the model in eval mode and run it stage by stage yourself (stem, then stage k and exit head "
        "k). Keep a tensor of the original indices of the samples still in the batch; after each exit, "
        "write the leavers' predictions and exit index into output tensors at their original positions, "
        "then shrink both the feature map and the index tensor to the samples that stay.",
        "alive = arange(N); h = stem(X); for k, (stage, head): h = stage(h); logits = head(h); leave = "
        "<entropy test> (all True at the last exit); preds[alive[leave]] = ...; exit_index[alive[leave]] = k; "
        "alive, h = alive[~leave], h[~leave]; stop when nothing is left. Use torch.no_grad().",
    ],
    "exit_costs_from_parts": [
        "The cost of leaving at exit k is everything the sample went through: stages 0..k and the exit "
        "heads 0..k it evaluated on the way.",
        "Check both lists have the same length E and non-negative entries; then it is a running sum of "
        "(stage cost + head cost).",
        "Convert both to float64 tensors, add them elementwise and take a cumulative sum along the only "
        "axis; the result has shape (E,).",
    ],
    "expected_cost": [
        "The average cost per sample when every sample pays the cost of the exit it left at.",
        "Validate exit_index: a non-empty 1-D integer tensor whose values index into exit_costs. Then "
        "look up each sample's cost and average.",
        "costs = torch.as_tensor(exit_costs, dtype=float64); return float(costs[exit_index].mean()) - "
        "after raising a ValueError for an index < 0 or >= len(costs).",
    ],
    "threshold_sweep": [
        "Simulate early exit offline: with all exits' logits precomputed, each threshold gives one "
        "(accuracy, mean cost) point of the accuracy/cost curve.",
        "For every threshold apply the same per-sample rule as early_exit_inference: the first exit whose "
        "entropy is below the threshold, else the last exit. Then read off whether that exit was correct "
        "and what it cost, and average over samples.",
        "ent = entropy(exit_logits) is (E, N); leave = ent < t with the last row forced True; the first "
        "True per column is leave.int().argmax(dim=0). Gather correctness (E, N) at that row and index the "
        "cost vector with it. Return two float64 tensors of shape (T,).",
    ],
    "choose_threshold": [
        "Tune on validation, report on test once: the threshold is chosen with validation logits only, "
        "then the test split is evaluated with that single threshold.",
        "Sweep the thresholds on validation; keep those whose accuracy is at least the final exit's "
        "validation accuracy minus the budget; among them take the cheapest. Evaluate only that "
        "threshold on test. Raise a clear error if no threshold qualifies.",
        "val_acc, val_cost = threshold_sweep(val...); final = accuracy of val_logits[-1]; ok = val_acc >= "
        "final - budget; pick argmin of val_cost over ok; then threshold_sweep(test..., [chosen]) once. "
        "Return the dict with threshold, val_acc, val_cost, test_acc and test_cost.",
    ],
    "fit_temperature": [
        "Temperature scaling divides the logits by one number T > 0, chosen to minimise the negative "
        "log-likelihood on held-out (validation) data. Accuracy does not change, confidence does.",
        "The NLL of softmax(z / T) is a smooth one-dimensional function; it is convex in 1/T. Optimise "
        "log T (so T stays positive) with LBFGS or a few hundred Adam steps on detached logits, or "
        "bisect on the derivative.",
        "log_t = torch.zeros((), requires_grad=True); loss = F.cross_entropy(logits.detach() / log_t.exp(), y); "
        "minimise it, then return float(log_t.exp()). Overconfident logits should give T > 1.",
    ],
    "overthinking": [
        "Overthinking: an earlier exit already had the right answer. Wasteful: the sample went further "
        "than its first correct exit. Destructive: some exit was right but the final one is wrong.",
        "Build correct[k, i] = (argmax of exit k == y_i). The oracle exit is the first correct exit, or "
        "the last exit when none is correct. Both fractions are over all samples.",
        "any_correct = correct.any(0); first = correct.int().argmax(0); oracle = where(any_correct, first, E - 1); "
        "wasteful = mean(oracle < E - 1); destructive = mean(any_correct & ~correct[-1]). Return a dict "
        "with oracle_exit, wasteful and destructive (floats for the fractions).",
    ],
    "confusion_scores": [
        "The SDN confusion metric measures how much the exits disagree with the final exit: the sum over "
        "exits of the L1 distance between their softmax outputs and the final softmax.",
        "Compute the raw score per sample for the given logits and for the training logits, then "
        "standardise with the *training* set's mean and standard deviation (not the scored set's own).",
        "p = softmax(logits, -1) is (E, N, C); raw = (p - p[-1:]).abs().sum(-1).sum(0) is (N,); "
        "return (raw - train_raw.mean()) / train_raw.std().",
    ],
}
