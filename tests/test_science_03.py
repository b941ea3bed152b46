"""Notebook 03's hidden tests accept the valid conventions of the papers' code and refuse the plausible wrong rules
(issue 18, review A12 and point 7).

- The SDN confusion score z-scored with the population standard deviation (np.std, ddof=0, as Kaya et al.'s
  `sdn_confusion_stats` does) earns the same points as the notebook's torch default (correction=1).
- Each plausible wrong budget rule of choose_threshold picks another threshold than the right one on the hidden
  test's designed sweep (so each is caught by it, whatever the other tests do).
"""

from __future__ import annotations

import torch

from autograder import content
from autograder.suite import LocalStudent, reference_namespace, run_suite

STEM = "03_early_exit"


def _population_std_confusion(exit_logits: torch.Tensor, train_exit_logits: torch.Tensor) -> torch.Tensor:
    def raw(logits: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(logits.double(), dim=-1)
        return (p - p[-1:]).abs().sum(dim=-1).sum(dim=0)

    train = raw(train_exit_logits)
    return (raw(exit_logits) - train.mean()) / train.std(correction=0)


def test_confusion_with_sdn_population_std_gets_full_marks() -> None:
    namespace = reference_namespace(STEM)
    namespace["confusion_scores"] = _population_std_confusion
    results = run_suite(STEM, LocalStudent(namespace), ["test_confusion_scores"])
    assert results and all(r.state == "passed" for r in results), [(r.test, r.state, r.message) for r in results]


def test_budget_rules_pick_different_thresholds() -> None:
    tests = content.load(STEM, "tests")
    mutants = {m.description: m for m in content.load(STEM, "mutants").MUTANTS}
    ref = content.load(STEM, "reference")
    val_logits, val_y, thresholds = tests._budget_rule_split(85)
    costs = [1.0e6, 1.8e6, 2.7e6]
    args = (val_logits, val_y, val_logits, val_y, thresholds, costs, tests._RULE_BUDGET)
    picked = {"right": ref.choose_threshold(*args)["threshold"]}
    for name in (
        "relative budget (accuracy >= final * (1 - budget))",
        "strict budget (a drop of exactly the budget refused)",
        "budget measured from the most accurate exit",
        "budget measured from the best sweep accuracy",
    ):
        picked[name] = mutants[name].overrides["choose_threshold"](*args)["threshold"]
    assert len(set(picked.values())) == len(picked), picked
