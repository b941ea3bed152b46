"""Hints for 03_early_exit (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "entropy": [
        "Entropy of the predicted distribution, H = -sum_c p_c log p_c with the natural log, one value per "
        "sample: low entropy = confident = a candidate for leaving early.",
        "Work from log-probabilities rather than probabilities: log_softmax over the last axis is "
        "numerically safe, and p log p must be 0 (not NaN) where p underflows to 0. Accept any leading "
        "shape (..., C) and reduce only the class axis.",
        "Two steps after the checks: log_p = ____ (the numerically safe log-probabilities over the class "
        "axis), then combine p = log_p.exp() with log_p, reduce over the last axis and mind the sign. Do not "
        "use torch.log(torch.softmax(...)) and do not use log2; the result has the input's shape without its "
        "last axis.",
    ],
    "early_exit_inference": [
        "Each sample decides on its own: it leaves at the first exit whose entropy is below the threshold "
        "(the last exit takes everyone left). Samples that left must not be computed any further - that "
        "is where the saving comes from.",
        "Put the model in eval mode and run it stage by stage yourself (stem, then stage k and exit head "
        "k). Keep a tensor of the original indices of the samples still in the batch; after each exit, "
        "write the leavers' predictions and exit index into output tensors at their original positions, "
        "then shrink both the feature map and the index tensor to the samples that stay.",
        "Skeleton: preds and exit_index are empty long tensors of size N on X's device; alive = the original "
        "positions 0..N-1. Under torch.no_grad(), run the stem on X, then for k, (stage, head) in "
        "enumerate(zip(model.stages, model.exits)): move the features through the stage, compute the head's "
        "logits, leave = <entropy below the threshold, or every sample at the last exit>; write the leavers' "
        "argmax and k into preds and exit_index at their original positions (____: index the outputs with "
        "alive masked by leave); then ____ (keep only the staying samples, in alive and in the features "
        "alike); stop once nobody is left.",
    ],
    "exit_costs_from_parts": [
        "The cost of leaving at exit k is everything the sample went through: stages 0..k and the exit "
        "heads 0..k it evaluated on the way.",
        "Check both lists have the same length E and non-negative entries; then it is a running sum of "
        "(stage cost + head cost).",
        "Convert both lists with torch.as_tensor in float64, check they are 1-D, non-empty, of the same shape "
        "and non-negative, then one line remains: ____ (which running reduction turns per-exit costs into the "
        "cost of leaving at exit k?). The result has shape (E,).",
    ],
    "expected_cost": [
        "The average cost per sample when every sample pays the cost of the exit it left at.",
        "Validate exit_index: a non-empty 1-D integer tensor whose values index into exit_costs. Then "
        "look up each sample's cost and average.",
        "Validate first: exit_index must be a non-empty 1-D integer tensor (ValueError, TypeError for "
        "floats), the cost table a 1-D float64 tensor (torch.as_tensor), every index in 0..E-1 (ValueError "
        "otherwise). Then per_sample = ____  # the one line that picks each sample's cost from the table. "
        "Return the mean of per_sample as a Python float.",
    ],
    "threshold_sweep": [
        "Simulate early exit offline: with all exits' logits precomputed, each threshold gives one "
        "(accuracy, mean cost) point of the accuracy/cost curve.",
        "For every threshold apply the same per-sample rule as early_exit_inference: the first exit whose "
        "entropy is below the threshold, else the last exit. Then read off whether that exit was correct "
        "and what it cost, and average over samples.",
        "Once, before the loop: the entropy of every exit's logits and whether each exit's argmax equals y, "
        "both (E, N). For each threshold t: leave = <entropy below t>, with the last exit's row forced True; "
        "k = ____ (per column, the index of its first True row: one reduction over dim 0 of an integer copy "
        "of leave does it); the accuracy is the mean correctness at row k of each column (Tensor.gather) and "
        "the cost the mean of the cost table at k. Stack into two float64 tensors of shape (T,).",
    ],
    "choose_threshold": [
        "Tune on validation, report on test once: the threshold is chosen with validation logits only, "
        "then the test split is evaluated with that single threshold.",
        "Sweep the thresholds on validation; keep those whose accuracy is at least the final exit's "
        "validation accuracy minus the budget; among them take the cheapest. Evaluate only that "
        "threshold on test. Raise a clear error if no threshold qualifies.",
        "acc, cost = your sweep on the validation split; final = the validation accuracy of the last exit "
        "alone; ok = the thresholds whose accuracy is within budget of final (allow 1e-12 for rounding), "
        "ValueError if none; i = ____ (the cheapest index among ok: hide the others from an argmin, e.g. with "
        "torch.where and inf); then sweep the test split with [that threshold] only, once. Return the dict "
        "with threshold, val_acc, val_cost, test_acc and test_cost as Python floats.",
    ],
    "fit_temperature": [
        "Temperature scaling divides the logits by one number T > 0, chosen to minimise the negative "
        "log-likelihood on held-out (validation) data. Accuracy does not change, confidence does.",
        "The NLL of softmax(z / T) is a smooth one-dimensional function; it is convex in 1/T. Optimise "
        "log T (so T stays positive) with LBFGS or a few hundred Adam steps on detached logits, or "
        "bisect on the derivative.",
        "z = the logits, detached (float64 helps LBFGS); log_t = a scalar zero tensor with "
        "requires_grad=True; the loss is the cross-entropy of ____ (the logits divided by the current "
        "temperature, the exp of log_t) against y. Minimise it with torch.optim.LBFGS (a closure that zeroes "
        "the gradient, computes the loss, calls backward and returns the loss) or with a few hundred Adam "
        "steps, then return the temperature as a Python float. Overconfident logits should give T > 1.",
    ],
    "overthinking": [
        "Overthinking: an earlier exit already had the right answer. Wasteful: the sample went further "
        "than its first correct exit. Destructive: some exit was right but the final one is wrong.",
        "Build correct[k, i] = (argmax of exit k == y_i). The oracle exit is the first correct exit, or "
        "the last exit when none is correct. Both fractions are over all samples.",
        "correct[k, i] = whether exit k's argmax is y_i, (E, N). ever = <did any exit get sample i right?>; "
        "first = ____ (per column, the index of the first True: the integer-copy trick of threshold_sweep); "
        "oracle = first where ever, else the last exit (torch.where). wasteful = the share of samples whose "
        "oracle exit is before the last one; destructive = the share that some exit got right and the last "
        "exit got wrong. Return a dict with oracle_exit (a long tensor), wasteful and destructive (Python "
        "floats).",
    ],
    "confusion_scores": [
        "The SDN confusion metric measures how much the exits disagree with the final exit: the sum over "
        "exits of the L1 distance between their softmax outputs and the final softmax.",
        "Compute the raw score per sample for the given logits and for the training logits, then "
        "standardise with the *training* set's mean and standard deviation (not the scored set's own).",
        "A small inner function raw(logits): p = the softmax over the class axis (in float64), (E, N, C); "
        "return ____ (each exit's L1 distance to the final exit's p, summed over classes and then over exits; "
        "slice the final exit as p[-1:] so it broadcasts), shape (N,). Compute it for the training logits and "
        "for the scored logits, then standardise the scored values with the training values' mean and std.",
    ],
}
