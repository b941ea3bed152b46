"""Class 2 of issue 17: evidence measured inside the student's process can be forged.

Two solved copies of real course notebooks with one graded cell replaced by a cheat that does not do the
work the test is about, and then makes the probe's in-process evidence say it did:

- e1_forge_compaction (03_early_exit): `early_exit_inference` runs every stage and head on the whole
  batch (no compaction; the answers are right), calling `forward` directly so no forward hook sees it,
  then walks up the call stack to the probe's `counts` dict and writes the per-stage sample counts a
  compacting implementation would have produced.
- e2_forge_skipping (04_layer_skipping): `GatedBlock` computes the residual body for every sample and
  masks it (no skipping; the outputs are right), calling `residual.forward` directly so the probe's hook
  does not fire, then appends the number of open gates to the probe's `sizes` list found on the stack.

On the grader of 81466c8 both score the compaction / real-skipping test; now those tests are decided in
the judge from outputs of batch-coupled trusted modules, and both score 0 there while the rest of their
notebook still passes.
"""

from __future__ import annotations

from adversarial.submissions import Attack, BuildContext

FORGE_COMPACTION = '''def early_exit_inference(model, X, threshold):
    """Runs every stage on the whole batch, then forges the probe's per-stage counters."""
    import sys
    model.eval()
    with torch.no_grad():
        h = model.stem.forward(X)
        all_logits = []
        for stage, head in zip(model.stages, model.exits):
            h = stage.forward(h)  # forward(), not __call__: no forward hook runs
            all_logits.append(head.forward(h))
        logits = torch.stack(all_logits)
        leave = entropy(logits) < threshold
        leave[-1] = True
        exits = leave.to(torch.int8).argmax(0).long()
        preds = logits.argmax(-1).gather(0, exits[None])[0]
    remaining = [int((exits >= k).sum()) for k in range(len(model.stages))]
    frame = sys._getframe(1)
    while frame is not None:
        counts = frame.f_locals.get("counts")
        if isinstance(counts, dict) and "stage" in counts and "head" in counts:
            for key in ("stage", "head"):
                counts[key][:] = remaining
        modes = frame.f_locals.get("modes")
        if isinstance(modes, list):
            modes.clear()
        frame = frame.f_back
    return preds, exits
'''

FORGE_SKIPPING = '''class GatedBlock(nn.Module):
    """Computes the residual for every sample and masks it, then forges the probe's residual-call list."""

    def __init__(self, block, gate, gate_fn=None, tau=1.0):
        super().__init__()
        self.block, self.gate, self.tau = block, gate, tau
        self.gate_fn = gate_fn if gate_fn is not None else st_gumbel_gate
        self.last_gate = None

    def forward(self, x):
        import sys
        g = self.gate_fn(self.gate(x), tau=self.tau, training=self.training)
        self.last_gate = g
        if self.training:
            return F.relu(self.block.shortcut(x) + g.view(-1, 1, 1, 1) * self.block.residual(x))
        hard = (g > 0.5).to(x.dtype)
        body = self.block.residual.forward(x)  # forward(), not __call__: the probe's hook does not fire
        out = F.relu(self.block.shortcut(x) + hard.view(-1, 1, 1, 1) * body)
        opened = int(hard.sum())
        frame = sys._getframe(1)
        while frame is not None:
            sizes = frame.f_locals.get("sizes")
            if isinstance(sizes, list):
                if opened:
                    sizes.append(opened)
                break
            frame = frame.f_back
        return out
'''

# fit_temperature left as the stub: its hidden tests take seconds each, and this batch runs with --test-timeout 8
_FAST = {"fit_temperature_impl": "def fit_temperature(logits, y):\n    raise NotImplementedError\n"}
_03_OTHERS = (
    "entropy_matches_definition",
    "entropy_safe_at_zero_probability",
    "early_exit_per_sample_in_order",
    "early_exit_uses_eval_mode",
    "exit_costs_include_every_head",
    "expected_cost_weights_samples",
    "sweep_matches_per_sample_rule",
    "oracle_stops_at_first_correct_exit",
    "confusion_matches_sdn",
)
_04_OTHERS = (
    "gumbel_forward_is_hard",
    "gate_shapes_any_batch",
    "gated_block_eval_output_in_order",
    "gated_block_train_dense_mask",
    "target_loss_value",
    "policy_one_probability_per_block",
    "policy_any_image_size_batch_one",
    "reward_correct_samples",
    "reinforce_loss_value",
    "macs_match_reference",
)


def add_attacks(ctx: BuildContext) -> None:
    ctx.add(
        Attack(
            "e1_forge_compaction",
            "03 early exit without compaction; hooks dodged with forward(), the probe's counters rewritten "
            "through sys._getframe",
            zero=("early_exit_compacts_batch",),
            normal=_03_OTHERS,
            stem="03_early_exit",
            klass=2,
        ),
        ctx.course_notebook("03_early_exit", {"early_exit_inference_impl": FORGE_COMPACTION, **_FAST}),
    )
    ctx.add(
        Attack(
            "e2_forge_skipping",
            "04 GatedBlock computes the residual for every sample and masks it; the hook dodged with "
            "residual.forward(), the probe's size list forged through sys._getframe",
            zero=("gated_block_really_skips",),
            normal=_04_OTHERS,
            stem="04_layer_skipping",
            klass=2,
        ),
        ctx.course_notebook("04_layer_skipping", {"GatedBlock_impl": FORGE_SKIPPING}),
    )
