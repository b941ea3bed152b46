"""Known-wrong implementations for 03_early_exit's hidden tests (one per pitfall in issue 6, and more)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from autograder import content
from autograder.suite import Mutant

_ref = content.load("03_early_exit", "reference")


# ------------------------------------------------------------------------------------------- entropy


def entropy_log2(logits):
    p = torch.softmax(logits, -1)
    return -(p * torch.log2(p.clamp_min(1e-30))).sum(-1) * (p > 0).any(-1)


def entropy_wrong_sign(logits):
    log_p = F.log_softmax(logits, -1)
    return (log_p.exp() * log_p).sum(-1)


def entropy_naive_log(logits):
    p = torch.softmax(logits, -1)
    return -(p * torch.log(p)).sum(-1)


def entropy_batch_mean(logits):
    log_p = F.log_softmax(logits, -1)
    h = -(log_p.exp() * log_p).sum(-1)
    return h.mean().expand_as(h).clone()


# ----------------------------------------------------------------------------- early exit inference


@torch.no_grad()
def early_exit_batch_mean(model, X, threshold):
    """Leaves only when the batch-mean entropy is below the threshold (couples samples)."""
    model.eval()
    h = model.stem(X)
    for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
        h = stage(h)
        logits = head(h)
        if k == len(model.exits) - 1 or float(entropy(logits).mean()) < threshold:
            return logits.argmax(1), torch.full((len(X),), k, dtype=torch.long)


@torch.no_grad()
def early_exit_out_of_order(model, X, threshold):
    """Compacts correctly but concatenates results in exit order instead of scattering them back."""
    model.eval()
    preds, exits = [], []
    h = model.stem(X)
    for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
        h = stage(h)
        logits = head(h)
        leave = entropy(logits) < threshold if k < len(model.exits) - 1 else torch.ones(len(h), dtype=torch.bool)
        preds.append(logits[leave].argmax(1))
        exits.append(torch.full((int(leave.sum()),), k, dtype=torch.long))
        h = h[~leave]
    return torch.cat(preds), torch.cat(exits)


@torch.no_grad()
def early_exit_no_compaction(model, X, threshold):
    """Right answers, but every sample runs through every stage (no compute saved)."""
    model.eval()
    logits = torch.stack(model(X))
    leave = entropy(logits) < threshold
    leave[-1] = True
    exits = leave.to(torch.int8).argmax(0).long()
    preds = logits.argmax(-1).gather(0, exits[None])[0]
    return preds, exits


@torch.no_grad()
def early_exit_forward_all_where(model, X, threshold):
    """Every stage's forward() on the whole batch (no hook would see it), exits chosen with torch.where."""
    model.eval()
    h = model.stem.forward(X)
    preds = exits = None
    for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
        h = stage.forward(h)
        logits = head.forward(h)
        leave = entropy(logits) < threshold if k < len(model.exits) - 1 else torch.ones(len(X), dtype=torch.bool)
        if preds is None:
            preds, exits = logits.argmax(1), torch.zeros(len(X), dtype=torch.long)
            done = leave
            continue
        take = leave & ~done
        preds = torch.where(take, logits.argmax(1), preds)
        exits = torch.where(take, torch.full_like(exits, k), exits)
        done = done | leave
    return preds, exits


def early_exit_train_mode(model, X, threshold):
    """Forgets model.eval(): BatchNorm uses batch statistics."""
    with torch.no_grad():
        was = model.training
        model.eval = lambda: model  # (keeps the reference's other steps; skips switching mode)
        try:
            return _ref.early_exit_inference(model, X, threshold)
        finally:
            del model.eval
            model.train(was)


def entropy(logits):  # the mutants above call the helper by name, as a student's code would
    return _ref.entropy(logits)


# ---------------------------------------------------------------------------------- exit costs


def costs_without_heads(stage_costs, head_costs):
    if len(stage_costs) != len(head_costs):
        raise ValueError("mismatch")
    return torch.cumsum(torch.as_tensor(stage_costs, dtype=torch.float64), 0)


def costs_own_head_only(stage_costs, head_costs):
    if len(stage_costs) != len(head_costs):
        raise ValueError("mismatch")
    return torch.cumsum(torch.as_tensor(stage_costs, dtype=torch.float64), 0) + torch.as_tensor(
        head_costs, dtype=torch.float64
    )


def costs_not_cumulative(stage_costs, head_costs):
    if len(stage_costs) != len(head_costs):
        raise ValueError("mismatch")
    return torch.as_tensor(stage_costs, dtype=torch.float64) + torch.as_tensor(head_costs, dtype=torch.float64)


def costs_zip_truncates(stage_costs, head_costs):
    return [
        float(v)
        for v in torch.cumsum(torch.tensor([s + h for s, h in zip(stage_costs, head_costs)], dtype=torch.float64), 0)
    ]


# ---------------------------------------------------------------------------------- expected cost


def expected_cost_unweighted(exit_index, exit_costs):
    used = torch.unique(exit_index)
    return float(torch.as_tensor(exit_costs, dtype=torch.float64)[used].mean())


def expected_cost_one_based(exit_index, exit_costs):
    costs = torch.as_tensor(exit_costs, dtype=torch.float64)
    return float(costs[(exit_index + 1).clamp_max(len(costs) - 1)].mean())


def expected_cost_no_checks(exit_index, exit_costs):
    costs = torch.as_tensor(exit_costs, dtype=torch.float64)
    return float(costs[exit_index.clamp_max(len(costs) - 1)].mean())


# ------------------------------------------------------------------------------- threshold sweep


def _sweep_with(exit_logits, y, thresholds, exit_costs, choose):
    costs = torch.as_tensor(exit_costs, dtype=torch.float64)
    correct = exit_logits.argmax(-1) == y
    accs, means = [], []
    for t in torch.as_tensor(thresholds, dtype=torch.float64).tolist():
        k = choose(exit_logits, t)
        accs.append(correct.gather(0, k[None])[0].double().mean())
        means.append(costs[k].mean())
    return torch.stack(accs), torch.stack(means)


def sweep_batch_mean(exit_logits, y, thresholds, exit_costs):
    def choose(logits, t):
        mean_h = entropy(logits).mean(1)
        below = (mean_h < t).tolist()[:-1] + [True]
        return torch.full((logits.shape[1],), below.index(True), dtype=torch.long)

    return _sweep_with(exit_logits, y, thresholds, exit_costs, choose)


def sweep_never_exits_to_first(exit_logits, y, thresholds, exit_costs):
    def choose(logits, t):  # argmax of an all-False column is 0: samples that never qualify go to exit 1
        return (entropy(logits) < t).to(torch.int8).argmax(0).long()

    return _sweep_with(exit_logits, y, thresholds, exit_costs, choose)


def sweep_max_softmax(exit_logits, y, thresholds, exit_costs):
    def choose(logits, t):
        leave = 1 - torch.softmax(logits, -1).amax(-1) < t
        leave[-1] = True
        return leave.to(torch.int8).argmax(0).long()

    return _sweep_with(exit_logits, y, thresholds, exit_costs, choose)


def sweep_cost_of_final(exit_logits, y, thresholds, exit_costs):
    acc, cost = _ref.threshold_sweep(exit_logits, y, thresholds, exit_costs)
    return acc, torch.full_like(cost, float(exit_costs[-1]))


# ------------------------------------------------------------------------------- choose threshold


def choose_on_test(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    picked = _ref.choose_threshold(test_logits, test_y, test_logits, test_y, thresholds, exit_costs, budget)
    val_acc, val_cost = threshold_sweep(val_logits, val_y, [picked["threshold"]], exit_costs)
    return dict(picked, val_acc=float(val_acc[0]), val_cost=float(val_cost[0]))


def choose_reports_val_as_test(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    picked = _ref.choose_threshold(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget)
    return dict(picked, test_acc=picked["val_acc"], test_cost=picked["val_cost"])


def choose_most_accurate(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    acc, cost = threshold_sweep(val_logits, val_y, thresholds, exit_costs)
    i = int(torch.argmax(acc))
    t = float(torch.as_tensor(thresholds)[i])
    t_acc, t_cost = threshold_sweep(test_logits, test_y, [t], exit_costs)
    return {
        "threshold": t,
        "val_acc": float(acc[i]),
        "val_cost": float(cost[i]),
        "test_acc": float(t_acc[0]),
        "test_cost": float(t_cost[0]),
    }


def choose_budget_from_best(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    """Budget measured from the best accuracy in the sweep instead of the final exit's accuracy."""
    acc, cost = threshold_sweep(val_logits, val_y, thresholds, exit_costs)
    ok = acc >= acc.max() - budget - 1e-12
    i = int(torch.argmin(torch.where(ok, cost, torch.full_like(cost, math.inf))))
    t = float(torch.as_tensor(thresholds)[i])
    t_acc, t_cost = threshold_sweep(test_logits, test_y, [t], exit_costs)
    return {
        "threshold": t,
        "val_acc": float(acc[i]),
        "val_cost": float(cost[i]),
        "test_acc": float(t_acc[0]),
        "test_cost": float(t_cost[0]),
    }


def _choose_with(rule, val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget):
    """Cheapest threshold among those `rule(acc, val_logits, val_y, budget)` keeps; test numbers of that one."""
    acc, cost = threshold_sweep(val_logits, val_y, thresholds, exit_costs)
    ok = rule(acc, val_logits, val_y, budget)
    if not ok.any():
        raise ValueError("no threshold meets the accuracy budget")
    i = int(torch.argmin(torch.where(ok, cost, torch.full_like(cost, math.inf))))
    t = float(torch.as_tensor(thresholds)[i])
    t_acc, t_cost = threshold_sweep(test_logits, test_y, [t], exit_costs)
    return {
        "threshold": t,
        "val_acc": float(acc[i]),
        "val_cost": float(cost[i]),
        "test_acc": float(t_acc[0]),
        "test_cost": float(t_cost[0]),
    }


def _final_acc(val_logits, val_y):
    return float((val_logits[-1].argmax(-1) == val_y).double().mean())


def choose_relative_budget(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    """A relative budget: keeps accuracy >= final * (1 - budget) instead of final - budget."""

    def rule(acc, logits, y, b):
        return acc >= _final_acc(logits, y) * (1 - b) - 1e-12

    return _choose_with(rule, val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget)


def choose_strict_budget(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    """A strict budget: the drop must be < budget, so a drop of exactly the budget is refused."""

    def rule(acc, logits, y, b):
        return _final_acc(logits, y) - acc < b

    return _choose_with(rule, val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget)


def choose_budget_from_best_exit(val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget=0.005):
    """The budget measured from the most accurate single exit instead of the final exit."""

    def rule(acc, logits, y, b):
        best = float((logits.argmax(-1) == y).double().mean(1).max())
        return acc >= best - b - 1e-12

    return _choose_with(rule, val_logits, val_y, test_logits, test_y, thresholds, exit_costs, budget)


def threshold_sweep(*args):
    return _ref.threshold_sweep(*args)


# ------------------------------------------------------------------------------- temperature


def temperature_inverted(logits, y):
    return 1.0 / _ref.fit_temperature(logits, y)


def temperature_not_fitted(logits, y):
    return 1.0


def temperature_at_least_one(logits, y):
    return max(1.0, _ref.fit_temperature(logits, y))


def temperature_coarse_grid(logits, y):
    grid = [0.5 * i for i in range(1, 11)]
    return min(grid, key=lambda T: float(F.cross_entropy(logits / T, y)))


# ------------------------------------------------------------------------------- overthinking


def _with_oracle(exit_logits, y, oracle):
    out = _ref.overthinking(exit_logits, y)
    out["oracle_exit"] = oracle
    return out


def oracle_last_correct(exit_logits, y):
    correct = (exit_logits.argmax(-1) == y).to(torch.int8)
    last = correct.shape[0] - 1 - correct.flip(0).argmax(0)
    return _with_oracle(exit_logits, y, last.long())


def oracle_stays_correct(exit_logits, y):
    """Peeks at later exits: stops at the first exit from which every later exit is also correct."""
    correct = exit_logits.argmax(-1) == y
    stays = correct.flip(0).cumprod(0).flip(0).bool()
    first = torch.where(
        stays.any(0), stays.to(torch.int8).argmax(0).long(), torch.full((correct.shape[1],), correct.shape[0] - 1)
    )
    return _with_oracle(exit_logits, y, first)


def oracle_never_correct_at_zero(exit_logits, y):
    correct = exit_logits.argmax(-1) == y
    return _with_oracle(exit_logits, y, correct.to(torch.int8).argmax(0).long())


def destructive_of_errors(exit_logits, y):
    out = _ref.overthinking(exit_logits, y)
    wrong_final = (exit_logits[-1].argmax(-1) != y).double().mean()
    out["destructive"] = float(out["destructive"] / wrong_final)
    return out


def wasteful_first_exit_only(exit_logits, y):
    out = _ref.overthinking(exit_logits, y)
    out["wasteful"] = float((exit_logits[0].argmax(-1) == y).double().mean())
    return out


# ------------------------------------------------------------------------------- confusion


def _raw(exit_logits, probs=True, p_norm=1):
    p = torch.softmax(exit_logits.double(), -1) if probs else exit_logits.double()
    return torch.linalg.vector_norm(p - p[-1:], ord=p_norm, dim=-1).sum(0)


def confusion_own_stats(exit_logits, train_exit_logits):
    raw = _raw(exit_logits)
    return (raw - raw.mean()) / raw.std()


def confusion_of_logits(exit_logits, train_exit_logits):
    raw, train = _raw(exit_logits, probs=False), _raw(train_exit_logits, probs=False)
    return (raw - train.mean()) / train.std()


def confusion_l2(exit_logits, train_exit_logits):
    raw, train = _raw(exit_logits, p_norm=2), _raw(train_exit_logits, p_norm=2)
    return (raw - train.mean()) / train.std()


def confusion_not_normalised(exit_logits, train_exit_logits):
    return _raw(exit_logits)


MUTANTS = [
    # entropy: log base, sign, p = 0, batch mean
    Mutant("entropy in log2", ("entropy_matches_definition",), {"entropy": entropy_log2}),
    Mutant(
        "entropy with the wrong sign",
        ("entropy_matches_definition", "entropy_safe_at_zero_probability"),
        {"entropy": entropy_wrong_sign},
    ),
    Mutant(
        "entropy via log(softmax) gives NaN at p = 0",
        ("entropy_safe_at_zero_probability",),
        {"entropy": entropy_naive_log},
    ),
    Mutant("entropy averaged over the batch", ("entropy_matches_definition",), {"entropy": entropy_batch_mean}),
    # early exit: coupled decisions, order, compaction, eval mode
    Mutant(
        "early exit on the batch-mean entropy",
        ("early_exit_per_sample_in_order",),
        {"early_exit_inference": early_exit_batch_mean},
    ),
    Mutant(
        "early exit returns results out of order",
        ("early_exit_per_sample_in_order",),
        {"early_exit_inference": early_exit_out_of_order},
    ),
    Mutant(
        "early exit still processes samples that left",
        ("early_exit_compacts_batch",),
        {"early_exit_inference": early_exit_no_compaction},
    ),
    Mutant(
        "early exit runs every stage's forward() on the whole batch and selects with torch.where",
        ("early_exit_compacts_batch",),
        {"early_exit_inference": early_exit_forward_all_where},
    ),
    Mutant(
        "early exit without model.eval()",
        ("early_exit_uses_eval_mode",),
        {"early_exit_inference": early_exit_train_mode},
    ),
    # exit costs: heads
    Mutant(
        "exit costs without heads", ("exit_costs_include_every_head",), {"exit_costs_from_parts": costs_without_heads}
    ),
    Mutant(
        "exit costs with only the exit's own head",
        ("exit_costs_include_every_head",),
        {"exit_costs_from_parts": costs_own_head_only},
    ),
    Mutant(
        "exit costs not cumulative", ("exit_costs_include_every_head",), {"exit_costs_from_parts": costs_not_cumulative}
    ),
    Mutant(
        "exit costs silently truncate mismatched lists",
        ("exit_costs_reject_mismatch",),
        {"exit_costs_from_parts": costs_zip_truncates},
    ),
    # expected cost
    Mutant(
        "expected cost unweighted over exits",
        ("expected_cost_weights_samples",),
        {"expected_cost": expected_cost_unweighted},
    ),
    Mutant(
        "expected cost off by one exit", ("expected_cost_weights_samples",), {"expected_cost": expected_cost_one_based}
    ),
    Mutant(
        "expected cost wraps negative indices",
        ("expected_cost_rejects_bad_index",),
        {"expected_cost": expected_cost_no_checks},
    ),
    # threshold sweep
    Mutant(
        "sweep on the batch-mean entropy", ("sweep_matches_per_sample_rule",), {"threshold_sweep": sweep_batch_mean}
    ),
    Mutant(
        "sweep sends samples that never qualify to exit 1",
        ("sweep_matches_per_sample_rule", "sweep_extreme_thresholds"),
        {"threshold_sweep": sweep_never_exits_to_first},
    ),
    Mutant(
        "sweep on max-softmax instead of entropy",
        ("sweep_matches_per_sample_rule",),
        {"threshold_sweep": sweep_max_softmax},
    ),
    Mutant(
        "sweep charges the full network",
        ("sweep_matches_per_sample_rule", "sweep_extreme_thresholds"),
        {"threshold_sweep": sweep_cost_of_final},
    ),
    # choose threshold
    Mutant("threshold chosen on test", ("choose_on_validation_report_on_test",), {"choose_threshold": choose_on_test}),
    Mutant(
        "validation numbers reported as test",
        ("choose_on_validation_report_on_test",),
        {"choose_threshold": choose_reports_val_as_test},
    ),
    Mutant(
        "most accurate threshold instead of cheapest in budget",
        ("choose_respects_budget",),
        {"choose_threshold": choose_most_accurate},
    ),
    Mutant(
        "budget measured from the best sweep accuracy",
        ("choose_respects_budget", "choose_budget_rule_exact"),
        {"choose_threshold": choose_budget_from_best},
    ),
    Mutant(
        "relative budget (accuracy >= final * (1 - budget))",
        ("choose_respects_budget", "choose_budget_rule_exact"),
        {"choose_threshold": choose_relative_budget},
    ),
    Mutant(
        "strict budget (a drop of exactly the budget refused)",
        ("choose_budget_rule_exact",),
        {"choose_threshold": choose_strict_budget},
    ),
    Mutant(
        "budget measured from the most accurate exit",
        ("choose_budget_rule_exact",),
        {"choose_threshold": choose_budget_from_best_exit},
    ),
    # temperature
    Mutant(
        "temperature inverted",
        ("temperature_minimises_nll", "temperature_below_one"),
        {"fit_temperature": temperature_inverted},
    ),
    Mutant(
        "temperature not fitted",
        ("temperature_minimises_nll", "temperature_below_one"),
        {"fit_temperature": temperature_not_fitted},
    ),
    Mutant(
        "temperature restricted to T >= 1", ("temperature_below_one",), {"fit_temperature": temperature_at_least_one}
    ),
    Mutant(
        "temperature from a coarse grid", ("temperature_minimises_nll",), {"fit_temperature": temperature_coarse_grid}
    ),
    # overthinking
    Mutant(
        "oracle uses the last correct exit",
        ("oracle_stops_at_first_correct_exit",),
        {"overthinking": oracle_last_correct},
    ),
    Mutant(
        "oracle peeks at later exits (first exit that stays correct)",
        ("oracle_stops_at_first_correct_exit",),
        {"overthinking": oracle_stays_correct},
    ),
    Mutant(
        "oracle sends never-correct samples to exit 1",
        ("oracle_stops_at_first_correct_exit",),
        {"overthinking": oracle_never_correct_at_zero},
    ),
    Mutant(
        "destructive as a share of final errors", ("overthinking_fractions",), {"overthinking": destructive_of_errors}
    ),
    Mutant(
        "wasteful counts only the first exit", ("overthinking_fractions",), {"overthinking": wasteful_first_exit_only}
    ),
    # confusion
    Mutant(
        "confusion z-scored with the scored set's own statistics",
        ("confusion_matches_sdn",),
        {"confusion_scores": confusion_own_stats},
    ),
    Mutant(
        "confusion on logits instead of probabilities",
        ("confusion_matches_sdn",),
        {"confusion_scores": confusion_of_logits},
    ),
    Mutant("confusion with an L2 distance", ("confusion_matches_sdn",), {"confusion_scores": confusion_l2}),
    Mutant(
        "confusion not normalised",
        ("confusion_matches_sdn", "confusion_normalised_on_training"),
        {"confusion_scores": confusion_not_normalised},
    ),
]
