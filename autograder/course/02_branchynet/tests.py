"""Hidden tests of notebook 02_branchynet (BranchyNet: exit heads, weighted exit loss, training, costs).

Each graded function is tested on its own: tests of BranchyResNet swap in a trusted exit head,
tests of the training function use course_lib's EarlyExitResNet and a trusted loss, so a partial
submission earns exactly the points of the functions it solved.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import course_lib as cl
from autograder.suite import Suite, TestFailure, expect, expect_close, expect_shape, seeded

SUITE = Suite("02_branchynet")
TINY = {"base_width": 4, "blocks_per_stage": (1, 1, 1), "stage_strides": (2, 2, 2)}
# Training probes use width 8 and no augmentation: they look at side effects (what changed, what the loss
# received), not at accuracy, and width 8 keeps clear of a torch 2.15 CPU abort in conv backward at width 4.
TRAIN_ARCH = {"base_width": 8, "blocks_per_stage": (1, 1, 1), "stage_strides": (2, 2, 2)}


# ------------------------------------------------------------------------------------ ExitHead


@SUITE.test(grade_id="test_ExitHead", points=1, uses=("ExitHead",))
def exit_head_layers(student):
    """ExitHead has one 3x3 conv (stride 2, padding 1), one BatchNorm and one linear layer over the pooled grid"""
    for in_c, classes, hidden, pool in ((5, 3, 7, None), (12, 10, 16, 3), (6, 4, 5, 1)):
        info = student.probe(SUITE.probes().exit_head_layers, in_c, classes, hidden, pool)
        expect(info["is_module"], "ExitHead should be an nn.Module")
        expect(len(info["convs"]) == 1, f"ExitHead should have exactly one Conv2d, found {len(info['convs'])}")
        conv = info["convs"][0]
        expect(conv["in"] == in_c and conv["out"] == hidden, "the conv should map in_channels to hidden_channels")
        expect(conv["kernel"] == [3, 3], "the conv should be 3x3")
        expect(conv["stride"] == [2, 2], "the conv should have stride 2")
        expect(conv["padding"] == [1, 1], "the conv should have padding 1")
        expect(info["bns"] == [hidden], "ExitHead should have one BatchNorm2d over the hidden channels")
        grid = 2 if pool is None else pool
        which = "the default pool_size" if pool is None else f"pool_size={pool}"
        expect(
            len(info["linears"]) == 1, f"ExitHead should end in exactly one Linear layer, found {len(info['linears'])}"
        )
        expect(info["linears"][0]["out"] == classes, "the Linear layer should output num_classes logits")
        expect(
            info["linears"][0]["in"] == hidden * grid * grid,
            f"with {which} the Linear layer should read hidden_channels * pool_size**2 features "
            f"(the flattened pooled grid), not {info['linears'][0]['in']}",
        )


@SUITE.test(grade_id="test_ExitHead", points=1, uses=("ExitHead",))
def exit_head_forward(student):
    """ExitHead computes conv -> BN -> ReLU -> adaptive average pool -> flatten (channel-major) -> linear"""
    ref = SUITE.reference()
    cases = ((4, 3, 6, 5, 2), (8, 10, 12, 8, 3), (3, 5, 4, 1, 2), (5, 4, 3, 11, 1))
    for seed, (in_c, classes, hidden, size, pool) in enumerate(cases):
        x = torch.randn(6, in_c, size, size + 1, generator=seeded(100 + seed))
        got = student.probe(SUITE.probes().exit_head_forward, in_c, classes, hidden, x, 200 + seed, pool)
        expect_shape(got["out"], (6, classes), "ExitHead output")
        head = ref.ExitHead(in_c, classes, hidden, pool).eval()
        with torch.no_grad():
            head.conv.weight.copy_(got["conv_weight"])
            bn_w, bn_b, mean, var, eps = got["bn"]
            head.bn.weight.copy_(bn_w)
            head.bn.bias.copy_(bn_b)
            head.bn.running_mean.copy_(mean)
            head.bn.running_var.copy_(var)
            head.bn.eps = eps
            expect(
                tuple(got["fc"][0].shape) == tuple(head.fc.weight.shape),
                "the Linear layer should read hidden_channels * pool_size**2 features",
            )
            head.fc.weight.copy_(got["fc"][0])
            head.fc.bias.copy_(got["fc"][1])
            expected = head(x)
        expect_close(
            got["out"],
            expected,
            f"ExitHead output with pool_size={pool} (eval mode, fixed weights)",
            atol=1e-4,
            rtol=1e-4,
        )


@SUITE.test(grade_id="test_ExitHead", points=1, uses=("ExitHead",))
def exit_head_rejects_bad_input(student):
    """ExitHead raises ValueError for a wrong channel count and for a tensor without a batch axis"""
    kinds = student.probe(SUITE.probes().exit_head_bad_inputs, 6, 4, 8)
    expect(
        kinds[0] == "ValueError",
        f"a feature map with the wrong number of channels should raise ValueError (got {kinds[0]})",
    )
    expect(kinds[1] == "ValueError", f"a 3-D tensor (no batch axis) should raise ValueError (got {kinds[1]})")


# ------------------------------------------------------------------------------- BranchyResNet


def _branchy_kwargs(classes: int, in_c: int, arch: dict) -> dict:
    return {"num_classes": classes, "in_channels": in_c, "head_channels": 8, **arch}


@SUITE.test(grade_id="test_BranchyResNet", points=1, uses=("BranchyResNet", "ExitHead"))
def branchy_structure(student):
    """BranchyResNet: an ExitHead after every stage but the last, the backbone classifier last, fresh weights"""
    for classes, in_c, arch in (
        (3, 1, TINY),
        (5, 3, {"base_width": 4, "blocks_per_stage": (1, 2), "stage_strides": (1, 2)}),
    ):
        info = student.probe(SUITE.probes().branchy_structure, _branchy_kwargs(classes, in_c, arch))
        expect(all(info["has"]), "BranchyResNet should expose .stem, .stages and .exits")
        stages = len(arch["blocks_per_stage"])
        expect(info["num_stages"] == stages, "BranchyResNet should keep every stage of the ResNet")
        expect(info["blocks_are_basic"], "the stages should be the course_lib ResNet's stages of BasicBlocks")
        expect(info["num_exits"] == stages, "there should be one exit per stage (side exits plus the classifier)")
        sides = info["side_exits"]
        expect(all(s["stand_in"] for s in sides), "the side exits should be ExitHead modules")
        expect(
            [s["built_for"] for s in sides] == info["stage_widths"][:-1],
            "each ExitHead should be built for the width of the stage it follows",
        )
        last = info["last_exit"]
        expect(
            not last["stand_in"] and last["convs"] == 0 and last["linears"] == [[info["stage_widths"][-1], classes]],
            "the last exit should be the backbone's own classifier (pooling + linear)",
        )
        expect(
            not info["shared_between_instances"],
            "two BranchyResNets share parameters: each should build a fresh ResNet",
        )


def _expected_exit_logits(got: dict, classes: int, in_c: int, arch: dict, x: torch.Tensor) -> list[torch.Tensor]:
    """Judge side: the logits every exit should return, from the weights the student's model came back with.

    A course_lib ResNet of the same shape takes the returned stem, stage and last-exit weights; each side exit
    is the trusted stand-in head (its output fingerprints the tensor it read), so only a forward that feeds
    exit k the output of stage k returns these logits.
    """
    net = cl.models.ResNet(classes, in_c, **arch)
    for part, state in (("stem", got["stem"]), ("stages", got["stages"]), ("classifier", got["last_exit"])):
        try:
            getattr(net, part).load_state_dict(state)
        except RuntimeError:
            raise TestFailure(
                f"the model's {'last exit' if part == 'classifier' else part} does not have the course_lib "
                f"ResNet's layout: build BranchyResNet around cl.models.ResNet's stem, stages and classifier"
            ) from None
    stand_in = SUITE.probes()._StandInHead
    net.eval()
    expected = []
    with torch.no_grad():
        h = net.stem(x)
        for k, stage in enumerate(net.stages):
            h = stage(h)
            last = k == len(net.stages) - 1
            expected.append(net.classifier(h) if last else stand_in(net.widths[k], classes)(h))
    return expected


@SUITE.test(grade_id="test_BranchyResNet", points=1, uses=("BranchyResNet", "ExitHead"))
def branchy_heads_read_their_stage(student):
    """forward runs every exit on the output of its own stage and returns the exits' logits in order

    Decided in the judge from the returned logits alone: trusted stand-in heads fingerprint what they read,
    and the judge recomputes each stage's output from the returned weights (nothing the runner measures counts).
    Calling stage.forward or head.forward directly is fine. course_lib's EarlyExitResNet.forward runs only its
    own PoolLinearHead exits: BranchyResNet needs its own forward.
    """
    for seed, (classes, in_c, size) in enumerate(((3, 1, 12), (4, 2, 16))):
        x = torch.randn(5, in_c, size, size, generator=seeded(300 + seed))
        got = student.probe(SUITE.probes().branchy_stage_wiring, _branchy_kwargs(classes, in_c, TINY), x)
        expect(got["is_list"], "forward should return a list of exit logits")
        expect(
            all(got["side_stand_ins"]),
            "the side exits should be ExitHead modules, built by calling ExitHead(...) in __init__",
        )
        expected = _expected_exit_logits(got, classes, in_c, TINY, x)
        expect(len(got["outputs"]) == len(expected), "forward should return one logits tensor per exit")
        for k, (out, want) in enumerate(zip(got["outputs"], expected)):
            expect_shape(out, (5, classes), f"logits of exit {k + 1}")
            expect_close(
                out,
                want,
                f"logits of exit {k + 1} (exit {k + 1} should read the output of stage {k + 1}, in eval mode)",
                atol=1e-5,
            )


@SUITE.test(grade_id="test_BranchyResNet", points=1, uses=("BranchyResNet", "ExitHead"))
def branchy_interface(student):
    """course_lib's block_costs can walk BranchyResNet, and wrong-channel input raises ValueError"""
    got = student.probe(SUITE.probes().branchy_interface, _branchy_kwargs(4, 1, TINY), (1, 16, 16))
    parts = got["parts"]
    expect(len(parts["heads"]) == got["num_exits"] == 3, "block_costs should find one head per exit")
    expect(all(c > 0 for c in parts["blocks"] + parts["heads"]), "every block and every exit head should cost MACs")
    expect(
        got["bad_channels"] == "ValueError",
        f"an input with the wrong number of channels should raise ValueError (got {got['bad_channels']})",
    )


# -------------------------------------------------------------------------- weighted_exit_loss


def _loss_case(seed: int, exits: int, batch: int, classes: int) -> tuple[list, torch.Tensor]:
    g = seeded(seed)
    logits = [torch.randn(batch, classes, generator=g) * (1 + k) for k in range(exits)]
    return logits, torch.randint(0, classes, (batch,), generator=g)


@SUITE.test(grade_id="test_weighted_exit_loss", points=1, uses=("weighted_exit_loss",))
def loss_matches_reference(student):
    """weighted_exit_loss = sum over exits of w_n * (batch-mean cross-entropy of exit n)"""
    ref = SUITE.reference()
    for seed, (exits, batch, classes) in enumerate(((3, 17, 10), (2, 5, 4), (4, 64, 7))):
        logits, y = _loss_case(400 + seed, exits, batch, classes)
        weights = (torch.rand(exits, generator=seeded(450 + seed)) * 2 + 0.1).tolist()
        got = student.call("weighted_exit_loss", logits, y, weights)
        expect(isinstance(got, torch.Tensor) and got.ndim == 0, "the loss should be a scalar tensor")
        expect_close(got, ref.weighted_exit_loss(logits, y, weights), "weighted loss", atol=1e-5, rtol=1e-5)


@SUITE.test(grade_id="test_weighted_exit_loss", points=1, uses=("weighted_exit_loss",))
def loss_weights_reach_their_exit(student):
    """weight n multiplies the loss of exit n and nothing else"""
    logits, y = _loss_case(500, 3, 32, 6)
    for n in range(3):
        weights = [0.0] * 3
        weights[n] = 2.5
        got = student.call("weighted_exit_loss", logits, y, weights)
        expect_close(
            got, 2.5 * F.cross_entropy(logits[n], y), f"loss with weight only on exit {n + 1}", atol=1e-5, rtol=1e-5
        )
    got = student.call("weighted_exit_loss", logits, y, [0.0, 0.0, 0.0])
    expect_close(got, torch.tensor(0.0), "loss with all weights zero", atol=1e-6)


@SUITE.test(grade_id="test_weighted_exit_loss", points=1, uses=("weighted_exit_loss",))
def loss_is_differentiable(student):
    """the loss is a scalar tensor whose gradient reaches every exit in proportion to its weight"""
    logits, y = _loss_case(600, 3, 12, 5)
    weights = [0.3, 0.7, 1.0]
    got = student.probe(SUITE.probes().loss_gradients, logits, y, weights)
    expect(got["tensor_scalar_with_grad"], "the loss should be a 0-dim tensor connected to the logits' graph")
    for k, (grad, w) in enumerate(zip(got["grads"], weights)):
        expect(grad is not None, f"no gradient reached exit {k + 1}")
        expected = w * (F.softmax(logits[k], 1) - F.one_hot(y, 5).float()) / len(y)
        expect_close(grad, expected, f"gradient with respect to exit {k + 1}'s logits", atol=1e-5, rtol=1e-4)


@SUITE.test(grade_id="test_weighted_exit_loss", points=1, uses=("weighted_exit_loss",))
def loss_rejects_bad_input(student):
    """weighted_exit_loss raises ValueError for a weight count, label count or logits shape that does not fit"""
    logits, y = _loss_case(700, 3, 8, 4)
    kinds = student.probe(SUITE.probes().loss_bad_inputs, logits, y)
    for what, kind in zip(("one weight fewer than exits", "labels of the wrong length", "3-D logits"), kinds):
        expect(kind == "ValueError", f"{what} should raise ValueError (got {kind})")


# ---------------------------------------------------------------------------- train_early_exit


def _tiny_loader(seed: int, n: int = 24) -> DataLoader:
    g = seeded(seed)
    X = torch.rand(n, 1, 12, 12, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return DataLoader(TensorDataset(X, y), batch_size=8, shuffle=False)


@SUITE.test(grade_id="test_train_early_exit", points=0.75, uses=("train_early_exit",))
def train_leaves_baseline_intact(student):
    """training updates the fresh early-exit model and never the baseline (no alias, no shared storage)"""
    got = student.probe(SUITE.probes().train_side_effects, TRAIN_ARCH, _tiny_loader(800), [0.3, 0.3, 1.0], 801)
    expect(not got["returned_is_baseline"], "the function returned the baseline instead of the early-exit model")
    expect(got["returned_is_model"], "the function should return the early-exit model it was given (and history)")
    expect(
        not got["shared_storage"],
        "the early-exit model shares parameter storage with the baseline: copy "
        "weights with load_state_dict instead of reusing the baseline's modules",
    )
    expect(got["baseline_unchanged"], "training changed the baseline's weights or statistics")
    expect(got["model_changed"], "the early-exit model's weights did not change during training")
    expect(
        got["refuse_alias"] == "ValueError",
        f"passing the baseline object as the model should raise ValueError (got {got['refuse_alias']})",
    )


@SUITE.test(grade_id="test_train_early_exit", points=0.75, uses=("train_early_exit",))
def train_starts_from_baseline_copy(student):
    """before training, the stem, stages and final classifier are copies of the trained baseline's"""
    got = student.probe(SUITE.probes().train_initialisation, TRAIN_ARCH, _tiny_loader(900), [0.3, 0.3, 1.0], 901)
    expect(got["stem"], "the model's stem does not start from the baseline's weights")
    expect(got["stages"], "the model's stages do not start from the baseline's weights")
    expect(got["classifier"], "the model's last exit does not start from the baseline's classifier")
    expect(got["side_heads_kept"], "the side exit heads should keep their own (fresh) initial weights")


@SUITE.test(grade_id="test_train_early_exit", points=0.75, uses=("train_early_exit",))
def train_uses_loss_and_weights(student):
    """training calls the given loss on every exit's logits with the given weights, once per batch"""
    weights = [0.7, 0.2, 1.3]
    got = student.probe(SUITE.probes().train_side_effects, TRAIN_ARCH, _tiny_loader(1000, n=32), weights, 1001)
    expect(got["num_calls"] == 4, "the loss function should be called once per training batch")
    for call in got["calls"]:
        expect(call["num_outputs"] == got["num_exits"], "the loss should receive the logits of every exit")
        expect(
            len(call["weights"]) == 3 and all(abs(a - b) < 1e-6 for a, b in zip(call["weights"], weights)),
            "the loss should receive the weights passed to the training function",
        )


@SUITE.test(grade_id="test_train_early_exit", points=0.75, uses=("train_early_exit",))
def train_changes_every_group(student):
    """joint training changes every parameter group: the stem, every stage and every exit head

    BranchyNet trains the backbone and all branches together; freezing the copied backbone (IC-only training,
    SDN's other mode), the side heads or the first stages is another method and trains other numbers.
    """
    got = student.probe(SUITE.probes().train_side_effects, TRAIN_ARCH, _tiny_loader(1100, n=32), [0.3, 0.3, 1.0], 1101)
    frozen = [group for group, changed in got["groups_changed"].items() if not changed]
    expect(
        not frozen,
        f"after one epoch of joint training these parts of the early-exit model did not change: {', '.join(frozen)}; "
        "the training should update every parameter (do not freeze or leave out any part)",
    )


# --------------------------------------------------------------------------- per_exit_accuracy


def _eval_model(seed: int, classes: int = 4) -> torch.nn.Module:
    """A tiny early-exit model whose BN running statistics are far from any batch's statistics."""
    torch.manual_seed(seed)
    model = cl.models.EarlyExitResNet(classes, 1, **TINY)
    g = seeded(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 4 + 0.1)
    return model


def _labels_from(model: torch.nn.Module, X: torch.Tensor, seed: int) -> torch.Tensor:
    """Labels that agree with the model's eval-mode last exit on about half of the samples."""
    model.eval()
    with torch.no_grad():
        pred = model(X)[-1].argmax(1)
    g = seeded(seed)
    noise = torch.randint(0, model.num_classes, pred.shape, generator=g)
    keep = torch.rand(pred.shape, generator=g) < 0.5
    return torch.where(keep, pred, noise)


@SUITE.test(grade_id="test_per_exit_accuracy", points=1, uses=("per_exit_accuracy",))
def accuracy_matches_eval_mode(student):
    """per_exit_accuracy returns one accuracy per exit, measured in eval mode"""
    ref = SUITE.reference()
    model = _eval_model(1100)
    X = torch.rand(40, 1, 12, 12, generator=seeded(1101))
    y = _labels_from(model, X, 1102)
    loader = DataLoader(TensorDataset(X, y), batch_size=20)
    model.train()
    got = student.call("per_exit_accuracy", model, loader)
    model.train()
    expected = ref.per_exit_accuracy(model, loader)
    expect(isinstance(got, (list, tuple, torch.Tensor)) and len(got) == 3, "expected one accuracy per exit")
    expect_close(torch.as_tensor([float(a) for a in got]), torch.as_tensor(expected), "per-exit accuracy", atol=1e-6)


@SUITE.test(grade_id="test_per_exit_accuracy", points=1, uses=("per_exit_accuracy",))
def accuracy_restores_mode(student):
    """per_exit_accuracy restores the model's train/eval mode and leaves BN statistics untouched"""
    X = torch.rand(16, 1, 12, 12, generator=seeded(1200))
    y = torch.randint(0, 4, (16,), generator=seeded(1201))
    loader = DataLoader(TensorDataset(X, y), batch_size=8)
    for start in (True, False):
        got = student.probe(SUITE.probes().accuracy_mode_effects, _eval_model(1202), loader, start)
        expect(
            got["training_after"] == start and got["uniform_mode"],
            f"a model in {'train' if start else 'eval'} mode should be back in that mode afterwards",
        )
        expect(got["state_unchanged"], "measuring accuracy changed the model's weights or BN statistics")


@SUITE.test(grade_id="test_per_exit_accuracy", points=1, uses=("per_exit_accuracy",))
def accuracy_counts_samples(student):
    """per_exit_accuracy averages over samples, also when the last batch is smaller"""
    ref = SUITE.reference()
    model = _eval_model(1300)
    X = torch.rand(31, 1, 12, 12, generator=seeded(1301))
    y = _labels_from(model, X, 1302)
    loader = DataLoader(TensorDataset(X, y), batch_size=9)
    model.eval()
    got = student.call("per_exit_accuracy", model, loader)
    expected = ref.per_exit_accuracy(model, loader)
    expect_close(
        torch.as_tensor([float(a) for a in got]),
        torch.as_tensor(expected),
        "per-exit accuracy with an uneven last batch",
        atol=1e-6,
    )


# ------------------------------------------------------------------------------ per_exit_costs


def _conv_head(channels: int, num_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 6, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(6, num_classes),
    )


def _cost_models() -> list:
    """course_lib's EarlyExitResNet, and a ResNet with conv exit heads attached as .exits: an early-exit network
    that is not course_lib's, which cl.cost.exit_costs (made for EarlyExitResNet only) refuses."""
    torch.manual_seed(1400)
    light = cl.models.EarlyExitResNet(5, 1, **TINY)
    heavy = cl.models.ResNet(5, 3, base_width=4, blocks_per_stage=(1, 1, 1), stage_strides=(1, 2, 2))
    heavy.exits = torch.nn.ModuleList([_conv_head(w, 5) for w in heavy.widths[:-1]] + [heavy.classifier])
    return [(light, (1, 12, 12)), (heavy, (3, 10, 10))]


class _EveryExit(torch.nn.Module):
    """One forward through the stem, every stage and every exit head of an early-exit network (judge side)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple:
        h, outputs = self.model.stem(x), []
        for stage, head in zip(self.model.stages, self.model.exits):
            h = stage(h)
            outputs.append(head(h))
        return tuple(outputs)


@SUITE.test(grade_id="test_per_exit_costs", points=1, uses=("per_exit_costs",))
def costs_match_reference(student):
    """per_exit_costs = MACs of stem + stages 1..k + every exit head 1..k, at batch 1, for any early-exit network

    Using cl.cost.module_macs or cl.cost.block_costs is fine. cl.cost.exit_costs (and its sub-models) measure
    course_lib's EarlyExitResNet with its own PoolLinearHead exits only, so the second model here, a ResNet with
    conv exit heads, is one it refuses however it is reached.
    """
    ref = SUITE.reference()
    for model, shape in _cost_models():
        got = student.call("per_exit_costs", model, shape)
        expected = ref.per_exit_costs(model, shape)
        expect(isinstance(got, (list, tuple)) and len(got) == len(expected), "expected one cost per exit")
        expect_close(
            torch.as_tensor([float(c) for c in got]),
            torch.as_tensor([float(c) for c in expected]),
            "cumulative exit costs (MACs)",
            atol=0.5,
            rtol=0.0,
        )


@SUITE.test(grade_id="test_per_exit_costs", points=1, uses=("per_exit_costs",))
def costs_include_every_head(student):
    """the last exit's cost equals one full forward that evaluates every head"""
    for model, shape in _cost_models():
        got = student.call("per_exit_costs", model, shape)
        full = cl.cost.module_macs(_EveryExit(model), torch.zeros(1, *shape))
        expect(all(b > a for a, b in zip(got, list(got)[1:])), "costs should grow from exit to exit")
        expect(
            abs(float(got[-1]) - full) < 0.5,
            "the last exit's cost should include the backbone and every exit head passed",
        )


@SUITE.test(grade_id="test_per_exit_costs", points=1, uses=("per_exit_costs",))
def costs_reject_bad_shape(student):
    """per_exit_costs raises ValueError for an input shape that is not one image's (C, H, W)"""
    torch.manual_seed(1500)
    kinds = student.probe(SUITE.probes().costs_bad_shapes, cl.models.EarlyExitResNet(3, 1, **TINY))
    for what, kind in zip(("a shape with a batch axis", "a shape without a channel axis"), kinds):
        expect(kind == "ValueError", f"{what} should raise ValueError (got {kind})")
