"""Issue 17, class 2 (notebooks 03 and 04): evidence the student's process cannot forge.

The compaction / real-skipping / determinism tests are decided in the judge from outputs of trusted,
batch-coupled modules and fresh inputs. Here the cheats of tests/adversarial/evidence_attacks.py (and a
cache) run in-process against those hidden tests: they must fail, while the reference passes, and the
probes must hand back outputs only (no counters a student could rewrite).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from adversarial import evidence_attacks as E
from autograder import content
from autograder.student import LocalStudent
from autograder.suite import reference_namespace, run_test, seeded

S03, S04 = "03_early_exit", "04_layer_skipping"


def _state(stem: str, test_name: str, overrides: dict | None = None) -> tuple[str, str]:
    suite = content.load(stem, "tests").SUITE
    test = next(t for t in suite.tests if t.name == test_name)
    namespace = reference_namespace(stem)
    namespace.update(overrides or {})
    result = run_test(test, LocalStudent(namespace))
    return result.state, result.message


def _cheat(stem: str, source: str, name: str) -> object:
    namespace = reference_namespace(stem)
    exec(compile(source, f"<{name} cheat>", "exec"), namespace)
    return namespace[name]


def test_compaction_case_shows_the_tripwire() -> None:
    tests = content.load(S03, "tests")
    model, X, threshold, preds, exits = tests._compaction_case(43)
    assert torch.bincount(exits, minlength=3).min() > 0
    loose_preds, loose_exits, _ = tests._judge_exits(copy.deepcopy(model), X, threshold, compact=False)
    assert int(((loose_preds != preds) | (loose_exits != exits)).sum()) >= 5
    ref_preds, ref_exits = content.load(S03, "reference").early_exit_inference(copy.deepcopy(model), X, threshold)
    assert torch.equal(ref_preds, preds) and torch.equal(ref_exits, exits)


def test_forged_compaction_counters_score_zero() -> None:
    assert _state(S03, "early_exit_compacts_batch")[0] == "passed"
    cheat = _cheat(S03, E.FORGE_COMPACTION, "early_exit_inference")
    state, message = _state(S03, "early_exit_compacts_batch", {"early_exit_inference": cheat})
    assert state == "failed" and "already left" in message, (state, message)
    # the cheat's answers are right on an ordinary model: only the compaction test catches it
    assert _state(S03, "early_exit_per_sample_in_order", {"early_exit_inference": cheat})[0] == "passed"


def test_forged_skipping_evidence_scores_zero() -> None:
    assert _state(S04, "gated_block_really_skips")[0] == "passed"
    cheat = _cheat(S04, E.FORGE_SKIPPING, "GatedBlock")
    state, message = _state(S04, "gated_block_really_skips", {"GatedBlock": cheat})
    assert state == "failed" and "real skipping" in message, (state, message)
    assert _state(S04, "gated_block_eval_output_in_order", {"GatedBlock": cheat})[0] == "passed"


def test_probes_return_outputs_only() -> None:
    p03, p04 = content.load(S03, "probes"), content.load(S04, "probes")
    tests03 = content.load(S03, "tests")
    model, X, threshold, _, _ = tests03._early_exit_case(41)
    out = p03.early_exit_run(reference_namespace(S03), model, X, threshold)
    assert set(out) == {"preds", "exit_index"}
    spec = {"in": 4, "out": 4, "stride": 1, "seed": 3, "coupled": True}
    logits = torch.randn(5, 2, generator=seeded(1))
    got = p04.gated_block_run(reference_namespace(S04), spec, logits, torch.randn(5, 4, 6, 6), False)
    assert set(got) == {"out"}
    block = p04.make_block(4, 4, 1, 3, coupled=True)
    assert all(not m.track_running_stats for m in block.residual if isinstance(m, nn.BatchNorm2d))


class _CachedRandomPolicy(nn.Module):
    """A random policy in eval mode that answers a repeated batch from a cache keyed by its bytes."""

    def __init__(self, in_channels: int, num_blocks: int) -> None:
        super().__init__()
        self.num_blocks, self.cache = num_blocks, {}
        self.fc = nn.Linear(in_channels, num_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = x.numpy().tobytes()
        if key not in self.cache:
            noise = torch.randn(len(x), self.num_blocks)
            self.cache[key] = torch.sigmoid(self.fc(x.mean(dim=(2, 3))) + F.dropout(noise, 0.5, training=True))
        return self.cache[key]


def test_repeat_pass_cannot_come_from_a_cache() -> None:
    assert _state(S04, "policy_any_image_size_batch_one")[0] == "passed"
    state, message = _state(S04, "policy_any_image_size_batch_one", {"PolicyNet": _CachedRandomPolicy})
    assert state == "failed" and "two eval-mode passes" in message, (state, message)
