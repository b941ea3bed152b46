"""Library answers and forgeable wiring evidence in 02_branchynet (issue 17, classes 4 and 2).

- course_lib's early-exit code (EarlyExitResNet.forward, cl.cost.exit_costs and its private `_ExitPath`) serves
  only its own network with its own PoolLinearHead exits, so it cannot be notebook 02's BranchyResNet.forward or
  per_exit_costs for a network with other heads, however it is reached (subclass, alias, default argument,
  an EarlyExitResNet shell around another network);
- branchy_heads_read_their_stage decides in the judge from the returned logits: a forward that feeds an exit the
  wrong tensor fails even when it hides that from hooks and rewrites the runner's by-hand pass.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import course_lib as cl
from adversarial import library_attacks as L
from autograder.student import LocalStudent
from autograder.suite import load_suite, reference_namespace, run_test

STEM = "02_branchynet"
TINY = {"base_width": 4, "blocks_per_stage": (1, 1, 1), "stage_strides": (2, 2, 2)}


def _conv_head(channels: int, classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, 3, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, classes)
    )


def _swapped_exits() -> cl.models.EarlyExitResNet:
    """course_lib's EarlyExitResNet whose side exits were replaced by other heads."""
    torch.manual_seed(0)
    model = cl.models.EarlyExitResNet(3, 1, **TINY)
    model.exits = nn.ModuleList([_conv_head(w, 3) for w in model.widths[:-1]] + [model.exits[-1]])
    return model


def _rebadged(net: nn.Module) -> cl.models.EarlyExitResNet:
    shell = cl.models.EarlyExitResNet.__new__(cl.models.EarlyExitResNet)
    nn.Module.__init__(shell)
    shell.stem, shell.stages, shell.exits = net.stem, net.stages, net.exits
    return shell


def _resnet_with_exits() -> nn.Module:
    torch.manual_seed(1)
    net = cl.models.ResNet(3, 1, **TINY)
    net.exits = nn.ModuleList([_conv_head(w, 3) for w in net.widths[:-1]] + [net.classifier])
    return net


def test_library_forward_runs_its_own_network() -> None:
    torch.manual_seed(2)
    out = cl.models.EarlyExitResNet(3, 1, **TINY).eval()(torch.rand(2, 1, 12, 12))
    assert [tuple(o.shape) for o in out] == [(2, 3)] * 3


def test_library_forward_refuses_other_exit_heads() -> None:
    with pytest.raises(TypeError, match="own forward"):
        _swapped_exits()(torch.rand(2, 1, 12, 12))


def test_library_forward_refuses_a_subclass_of_the_exit_head() -> None:
    class Disguised(cl.models.PoolLinearHead):
        pass

    model = cl.models.EarlyExitResNet(3, 1, **TINY)
    model.exits[0] = Disguised(model.widths[0], 3)
    with pytest.raises(TypeError, match="Disguised"):
        model(torch.rand(1, 1, 12, 12))


@pytest.mark.parametrize(
    "model", [_swapped_exits, lambda: _rebadged(_resnet_with_exits())], ids=["swapped exits", "re-badged shell"]
)
def test_exit_costs_and_its_sub_models_refuse_other_networks(model) -> None:
    net = model()
    with pytest.raises(TypeError, match="per_exit_costs"):
        cl.cost.exit_costs(net, (1, 12, 12))
    with pytest.raises(TypeError, match="EarlyExitResNet"):
        cl.cost._ExitPath(net, 0)


def _namespace(**replace: str) -> dict:
    """The reference namespace with some graded definitions replaced by the attack's source."""
    ns = reference_namespace(STEM)
    for source in replace.values():
        exec(compile(source, "<attack>", "exec"), ns)
    return ns


def _result(test_name: str, ns: dict):
    test = next(t for t in load_suite(STEM).tests if t.name == test_name)
    return run_test(test, LocalStudent(ns))


def test_reference_wiring_passes() -> None:
    assert _result("branchy_heads_read_their_stage", reference_namespace(STEM)).state == "passed"


def test_forged_wiring_fails_in_the_judge() -> None:
    """l3: hooks bypassed with head.forward and the probe's by-hand list rewritten from the call stack."""
    result = _result("branchy_heads_read_their_stage", _namespace(BranchyResNet=L.FORGED_WIRING))
    assert result.state == "failed" and result.points == 0
    assert "exit 1" in result.message


DIRECT_CALLS = (
    L.FORGED_WIRING.split("    def _rewrite_by_hand")[0].replace(
        "        self.stages[1].register_forward_hook(self._rewrite_by_hand)\n", ""
    )
    + """
    def forward(self, x):
        cl.models.check_input(x, self.in_channels, "BranchyResNet")
        h, outs = self.stem.forward(x), []
        for stage, head in zip(self.stages, self.exits):
            h = stage.forward(h)
            outs.append(head.forward(h))
        return outs
"""
)


def test_direct_forward_calls_are_fine() -> None:
    """Calling stage.forward / head.forward directly (hooks never fire) is a correct forward: it passes."""
    result = _result("branchy_heads_read_their_stage", _namespace(BranchyResNet=DIRECT_CALLS))
    assert result.state == "passed", result.message


def test_library_forward_scores_nothing_for_forward_but_keeps_the_structure_point() -> None:
    ns = _namespace(BranchyResNet=L.LIBRARY_FORWARD)
    wiring = _result("branchy_heads_read_their_stage", ns)
    assert wiring.points == 0 and "EarlyExitResNet" in wiring.message and "own forward" in wiring.message
    assert _result("branchy_structure", ns).state == "passed"


@pytest.mark.parametrize("source", [L.PRIVATE_EXIT_PATH, L.REBADGED_EXIT_COSTS], ids=["_ExitPath", "re-badged"])
def test_library_costs_score_nothing(source: str) -> None:
    ns = _namespace(per_exit_costs=source)
    for name in L.COSTS:
        result = _result(name, ns)
        assert result.points == 0 and "EarlyExitResNet" in result.message, (name, result)
    assert _result("costs_reject_bad_shape", ns).state == "passed"
