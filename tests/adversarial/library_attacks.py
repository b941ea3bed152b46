"""Classes 4 and 2 of issue 17 on notebook 02_branchynet: library answers, and wiring evidence forged in the runner.

Each submission is the solved notebook with one graded cell replaced:

- l1_library_answers (class 4), two library answers in one notebook: BranchyResNet subclasses course_lib's
  EarlyExitResNet (through an alias) and only swaps its side exits for ExitHeads, so forward, the heart of the
  exercise, is the library's; its constructor is the student's own work, so branchy_structure and
  branchy_interface must still pass. And per_exit_costs is course_lib's private `_ExitPath` sub-model measured
  with `module_macs`, both bound as default arguments (no name in the notebook's namespace says "library").
- l2_rebadged_exit_costs (class 4): per_exit_costs builds an empty `EarlyExitResNet` shell around any network's
  stem, stages and exits and hands it to `cl.cost.exit_costs` (a default argument), dodging its type check.
- l3_forged_wiring (class 2): BranchyResNet's first exit reads the stem's output instead of stage 1's. The
  forward calls `head.forward` directly (no hook sees the wrong input), then calls the head again on the right
  tensor for the pre-hook; a forward hook on stage 2 walks the call stack to the probe's `by_hand` list and
  overwrites the by-hand logits with the forward's wrong ones. Hooks and the in-runner by-hand pass agree.

Only the listed tests are attacked; every other test of the notebook is solved and must pass.
"""

from __future__ import annotations

from adversarial.submissions import Attack, BuildContext

STEM = "02_branchynet"

LIBRARY_FORWARD = '''_Library = cl.models.EarlyExitResNet


class BranchyResNet(_Library):
    """course_lib's early-exit network with ExitHeads as side exits (forward: the library's)."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, base_width=16,
                 blocks_per_stage=(1, 1, 1), stage_strides=(2, 2, 2)):
        super().__init__(num_classes, in_channels, base_width, blocks_per_stage, stage_strides)
        heads = [ExitHead(width, num_classes, head_channels) for width in self.widths[:-1]]
        self.exits = nn.ModuleList(heads + [self.exits[-1]])
'''

PRIVATE_EXIT_PATH = '''def per_exit_costs(model, input_shape, _path=cl.cost._ExitPath, _macs=cl.cost.module_macs):
    """The library's exit sub-models, measured one by one."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape should be one image's (C, H, W), got {input_shape!r}.")
    x = torch.zeros(1, *input_shape, device=next(model.parameters()).device)
    return [_macs(_path(model, k), x) for k in range(len(model.exits))]
'''

REBADGED_EXIT_COSTS = '''def per_exit_costs(model, input_shape, measure=cl.cost.exit_costs):
    """Any early-exit network, re-badged as course_lib's EarlyExitResNet for its exit_costs."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape should be one image's (C, H, W), got {input_shape!r}.")
    shell = cl.models.EarlyExitResNet.__new__(cl.models.EarlyExitResNet)
    nn.Module.__init__(shell)
    shell.stem, shell.stages, shell.exits = model.stem, model.stages, model.exits
    return measure(shell, tuple(input_shape))
'''

FORGED_WIRING = '''import sys


class BranchyResNet(nn.Module):
    """Exit 1 reads the stem's output (wrong); hooks and the by-hand pass are made to agree."""

    def __init__(self, num_classes=10, in_channels=1, head_channels=32, base_width=16,
                 blocks_per_stage=(1, 1, 1), stage_strides=(2, 2, 2)):
        super().__init__()
        backbone = cl.models.ResNet(num_classes, in_channels, base_width, blocks_per_stage, stage_strides)
        self.in_channels, self.num_classes, self.widths = in_channels, num_classes, backbone.widths
        self.stem, self.stages = backbone.stem, backbone.stages
        heads = [ExitHead(width, num_classes, head_channels) for width in self.widths[:-1]]
        self.exits = nn.ModuleList(heads + [backbone.classifier])
        self._wrong = None
        self.stages[1].register_forward_hook(self._rewrite_by_hand)

    def _rewrite_by_hand(self, module, inputs, output):
        frame = sys._getframe(1)
        while frame is not None:
            seen = frame.f_locals.get("by_hand")
            if isinstance(seen, list) and len(seen) == 1 and self._wrong is not None:
                seen[0] = self._wrong
                return
            frame = frame.f_back

    def forward(self, x):
        cl.models.check_input(x, self.in_channels, "BranchyResNet")
        h = self.stem(x)
        outs = []
        for k, (stage, head) in enumerate(zip(self.stages, self.exits)):
            if k == 0:
                outs.append(head.forward(h))  # the bug: the stem's output, unseen by hooks
                h = stage(h)
                head(h)  # what the pre-hook records
            else:
                h = stage(h)
                outs.append(head(h))
        self._wrong = outs[0].detach()
        return outs
'''

COSTS = ("costs_match_reference", "costs_include_every_head")


def add_attacks(ctx: BuildContext) -> None:
    # Three solved copies of notebook 02 (about 10 s each in the batch): l1 carries two library answers.
    ctx.add(
        Attack(
            "l1_library_answers",
            "BranchyResNet = course_lib's EarlyExitResNet with ExitHeads swapped in (forward is the library's); "
            "per_exit_costs = the private _ExitPath + module_macs as default arguments",
            zero=("branchy_heads_read_their_stage", *COSTS),
            normal=("branchy_structure", "branchy_interface", "costs_reject_bad_shape", "loss_matches_reference"),
            reason="EarlyExitResNet",
            stem=STEM,
            klass=4,
        ),
        ctx.course_notebook(STEM, {"BranchyResNet_impl": LIBRARY_FORWARD, "per_exit_costs_impl": PRIVATE_EXIT_PATH}),
    )
    ctx.add(
        Attack(
            "l2_rebadged_exit_costs",
            "per_exit_costs = cl.cost.exit_costs on an EarlyExitResNet shell around any network (default argument)",
            zero=COSTS,
            normal=("costs_reject_bad_shape", "branchy_heads_read_their_stage", "accuracy_counts_samples"),
            reason="EarlyExitResNet",
            stem=STEM,
            klass=4,
        ),
        ctx.course_notebook(STEM, {"per_exit_costs_impl": REBADGED_EXIT_COSTS}),
    )
    ctx.add(
        Attack(
            "l3_forged_wiring",
            "exit 1 reads the stem output; hooks bypassed with head.forward, the by-hand pass rewritten via the stack",
            zero=("branchy_heads_read_their_stage",),
            normal=("branchy_structure", "branchy_interface", "costs_match_reference"),
            stem=STEM,
            klass=2,
        ),
        ctx.course_notebook(STEM, {"BranchyResNet_impl": FORGED_WIRING}),
    )
