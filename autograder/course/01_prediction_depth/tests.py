"""Hidden tests of 01_prediction_depth (prediction depth with k-NN probes)."""

from __future__ import annotations

import copy
import math

import torch

from autograder.suite import Suite, expect, expect_close, expect_equal, expect_raises, expect_shape

SUITE = Suite("01_prediction_depth")


# ---------------------------------------------------------------------------------------------
# extract_representations


def _tiny_model(seed: int, in_channels: int = 1, num_classes: int = 5, blocks=(1, 1, 1)) -> torch.nn.Module:
    """A small ResNet with non-trivial BatchNorm statistics, in eval mode."""
    from course_lib.models import ResNet

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = ResNet(
            num_classes=num_classes,
            in_channels=in_channels,
            base_width=4,
            blocks_per_stage=blocks,
            stage_strides=(2,) * len(blocks),
        )
        g = torch.Generator().manual_seed(seed + 1)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(0.5 * torch.randn(c, generator=g))
                module.running_var.copy_(0.5 + torch.rand(c, generator=g))
                module.weight.data.copy_(1 + 0.3 * torch.randn(c, generator=g))
                module.bias.data.copy_(0.2 * torch.randn(c, generator=g))
    return model.eval()


def _compare_reps(got, expected, what: str) -> None:
    expect(isinstance(got, (list, tuple)), f"{what}: expected a list of tensors, got {type(got).__name__}")
    expect(
        len(got) == len(expected),
        f"{what}: expected {len(expected)} representations (input, stem, each block, softmax), got {len(got)}",
    )
    for layer, (g, e) in enumerate(zip(got, expected)):
        expect(isinstance(g, torch.Tensor), f"{what}: entry {layer} is not a tensor")
        expect(torch.is_floating_point(g), f"{what}: entry {layer} should be a float tensor")
        expect_shape(g, tuple(e.shape), f"{what}, entry {layer}")
        expect_close(g, e, f"{what}, entry {layer}", atol=1e-4, rtol=1e-3)


@SUITE.test(grade_id="test_extract_representations", points=1, uses=("extract_representations",))
def extract_layers_in_order(student) -> None:
    """extract_representations returns input, stem, every block and softmax, pooled (or whole with pool_size=None),
    in order, for any batch size"""
    g = torch.Generator().manual_seed(101)
    for seed, (in_ch, size, n, bs, blocks, pool) in enumerate(
        [(1, 12, 19, 8, (1, 1, 1), "default"), (3, 10, 11, 64, (2, 1, 1), 2), (1, 12, 7, 4, (1, 1, 1), None)]
    ):
        model = _tiny_model(200 + seed, in_channels=in_ch, blocks=blocks)
        X = torch.rand(n, in_ch, size, size, generator=g)
        kwargs = {"batch_size": bs} if pool == "default" else {"batch_size": bs, "pool_size": pool}
        expected = SUITE.reference().extract_representations(copy.deepcopy(model), X, **kwargs)
        got = student.call("extract_representations", model, X, **kwargs)
        _compare_reps(got, expected, f"representations of a {len(model.blocks())}-block model with {kwargs}")
    expect_raises(
        student,
        "extract_representations",
        model,
        torch.rand(4, in_ch + 1, size, size),
        what="X has the wrong number of channels",
    )


@SUITE.test(grade_id="test_extract_representations", points=1, uses=("extract_representations",))
def extract_in_eval_mode(student) -> None:
    """extract_representations uses eval-mode BatchNorm even when the model arrives in train mode"""
    g = torch.Generator().manual_seed(102)
    model = _tiny_model(300)
    X = torch.rand(24, 1, 12, 12, generator=g)
    expected = SUITE.reference().extract_representations(copy.deepcopy(model), X, batch_size=10)
    model.train()
    got = student.call("extract_representations", model, X, batch_size=10)
    _compare_reps(got, expected, "representations of a model passed in train mode")
    again = student.call("extract_representations", model, X, batch_size=10)
    for layer, (a, b) in enumerate(zip(got, again)):
        expect(torch.equal(a, b), f"two calls on the same model and images differ at layer {layer}: not deterministic")


@SUITE.test(grade_id="test_extract_representations", points=1, uses=("extract_representations",))
def extract_restores_mode(student) -> None:
    """extract_representations leaves the model's mode and weights/statistics as it found them"""
    g = torch.Generator().manual_seed(103)
    X = torch.rand(9, 1, 12, 12, generator=g)
    for start_in_train in (True, False):
        model = _tiny_model(400)
        info = student.probe(SUITE.probes().extract_side_effects, model, X, start_in_train, 4)
        state = "train" if start_in_train else "eval"
        expect(
            info["training_after"] == start_in_train and info["submodules_training"] == [start_in_train],
            f"a model passed in {state} mode should be back in {state} mode afterwards",
        )
        expect(
            not info["state_changed"],
            "extracting representations changed the model's parameters or BatchNorm running statistics",
        )


# ---------------------------------------------------------------------------------------------
# knn_probe_predictions


def _clusters(g: torch.Generator, n: int, classes: int, dim: int, spread: float):
    centers = 2.0 * torch.randn(classes, dim, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return centers[y] + spread * torch.randn(n, dim, generator=g), y


def _agreement(got, expected, what: str) -> float:
    expect(isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}")
    expect(got.dtype == torch.int64, f"{what}: expected an int64 (long) tensor, got {got.dtype}")
    expect_shape(got, tuple(expected.shape), what)
    return float((got == expected).double().mean())


@SUITE.test(grade_id="test_knn_probe_predictions", points=1, uses=("knn_probe_predictions",))
def knn_majority_vote(student) -> None:
    """knn_probe_predictions is a uniform-vote Euclidean k-NN on held-out queries"""
    g = torch.Generator().manual_seed(201)
    for classes, dim, spread, k in [(4, 6, 1.6, 9), (3, 5, 1.2, 1), (5, 8, 2.0, 15)]:
        S, y = _clusters(g, 150, classes, dim, spread)
        Q, _ = _clusters(g, 60, classes, dim, spread)
        expected = SUITE.reference().knn_probe_predictions(S, y, Q, k=k)
        got = student.call("knn_probe_predictions", S, y, Q, k=k)
        expect(
            _agreement(got, expected, f"k-NN predictions with k={k}") >= 0.95,
            f"k-NN predictions with k={k} on held-out queries disagree with a majority vote of the k nearest "
            f"support points too often",
        )
    # Hand-made votes where the plausible alternatives give another answer than one vote per neighbour with ties
    # to the smallest class label: distance-weighted votes, ties to the nearest (first-met) class, to the largest.
    support = torch.tensor([[0.1], [0.15], [1.0], [1.1], [1.2], [-0.2], [-0.3], [5.0], [5.1], [5.2], [9.0]])
    labels = torch.tensor([1, 1, 0, 0, 0, 2, 2, 3, 3, 4, 4])
    cases = [
        (torch.tensor([[0.05]]), 7, [0], "a 3-2-2 vote: the 3 far points of class 0 outvote the near ones"),
        (torch.tensor([[-0.12]]), 4, [1], "a 2-2 tie between classes 2 (nearer) and 1 goes to the smaller label, 1"),
        (torch.tensor([[5.3]]), 2, [3], "a 1-1 tie between classes 4 (nearer) and 3 goes to the smaller label, 3"),
    ]
    for query, k, expected_label, case in cases:
        got = student.call("knn_probe_predictions", support, labels, query, k=k)
        expect(isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}")
        expect(got.tolist() == expected_label, f"wrong vote with k={k} on a hand-made example where {case}")


@SUITE.test(grade_id="test_knn_probe_predictions", points=1, uses=("knn_probe_predictions",))
def knn_excludes_query_itself(student) -> None:
    """with exclude_self=True a support point is never its own neighbour"""
    g = torch.Generator().manual_seed(202)
    S = torch.randn(120, 4, generator=g)
    y = torch.randint(0, 4, (120,), generator=g)  # random labels: a point's own label tells nothing
    for k in (1, 5):
        expected = SUITE.reference().knn_probe_predictions(S, y, S, k=k, exclude_self=True)
        got = student.call("knn_probe_predictions", S, y, S.clone(), k=k, exclude_self=True)
        expect(
            _agreement(got, expected, f"leave-one-out k-NN predictions with k={k}") >= 0.95,
            f"leave-one-out k-NN predictions (exclude_self=True, k={k}) are wrong: is each query removed "
            f"from its own neighbours, and are still k other neighbours used?",
        )
    # duplicates: each point is left out by index; an identical copy of it (with another label) is still a neighbour
    base = torch.randn(30, 3, generator=g)
    D = torch.cat([base, base])
    yd = torch.cat([torch.zeros(30, dtype=torch.long), torch.ones(30, dtype=torch.long)])
    got = student.call("knn_probe_predictions", D, yd, D.clone(), k=1, exclude_self=True)
    expect(
        isinstance(got, torch.Tensor) and got.tolist() == yd.flip(0).tolist(),
        "with exclude_self=True and k=1, a point whose identical copy is in the support set should take the copy's "
        "label: leave the point itself out (by index), not every neighbour at distance 0",
    )


@SUITE.test(grade_id="test_knn_probe_predictions", points=1, uses=("knn_probe_predictions",))
def knn_default_k_and_errors(student) -> None:
    """knn_probe_predictions uses k=30 by default and rejects mismatched inputs with a ValueError"""
    g = torch.Generator().manual_seed(203)
    S, y = _clusters(g, 400, 3, 4, 3.0)  # heavily overlapping classes: the vote depends on k
    Q, _ = _clusters(g, 150, 3, 4, 3.0)
    expected = SUITE.reference().knn_probe_predictions(S, y, Q)
    got = student.call("knn_probe_predictions", S, y, Q)
    expect(
        _agreement(got, expected, "k-NN predictions with the default k") >= 0.95,
        "k-NN predictions with the default k disagree with a k=30 vote too often",
    )
    expect_raises(
        student, "knn_probe_predictions", S, y[:-1], Q, what="support_labels and support_feats have different lengths"
    )
    expect_raises(
        student,
        "knn_probe_predictions",
        S,
        y,
        Q[:, :3],
        what="query_feats and support_feats have different feature sizes",
    )


# ---------------------------------------------------------------------------------------------
# prediction_depth


def _structured_probes(g: torch.Generator, num_layers: int, n: int, classes: int = 5):
    """Probe predictions that settle on the final prediction at a random layer, with lucky agreements before."""
    final = torch.randint(0, classes, (n,), generator=g)
    settle = torch.randint(0, num_layers + 1, (n,), generator=g)  # num_layers: never settles
    preds = torch.randint(0, classes, (num_layers, n), generator=g)
    layer = torch.arange(num_layers)[:, None]
    preds = torch.where(layer >= settle[None], final[None], preds)
    wrong = (final + 1 + torch.randint(0, classes - 1, (n,), generator=g)) % classes
    has_prev = settle > 0
    rows = (settle - 1).clamp(min=0)
    cols = torch.arange(n)
    preds[rows[has_prev], cols[has_prev]] = wrong[has_prev]  # the probe just before settling disagrees
    return preds, final


@SUITE.test(grade_id="test_prediction_depth", points=1, uses=("prediction_depth",))
def depth_requires_all_later_layers(student) -> None:
    """prediction_depth is the first layer from which every later probe agrees with the final prediction"""
    g = torch.Generator().manual_seed(301)
    for num_layers, n in [(6, 300), (3, 80), (11, 150)]:
        preds, final = _structured_probes(g, num_layers, n)
        expected = SUITE.reference().prediction_depth(preds, final)
        got = student.call("prediction_depth", preds, final)
        expect(
            isinstance(got, torch.Tensor) and got.dtype == torch.int64,
            "prediction_depth should return an int64 (long) tensor",
        )
        expect_equal(got, expected, f"depths for {n} examples and {num_layers} probes")


@SUITE.test(grade_id="test_prediction_depth", points=1, uses=("prediction_depth",))
def depth_index_convention(student) -> None:
    """depth 0 when every probe agrees, L-1 when only the last does, L when none does"""
    final = torch.tensor([3, 3, 3, 3, 3, 3])
    preds = torch.tensor(
        [
            [3, 1, 1, 3, 3, 3],
            [3, 1, 1, 1, 3, 3],
            [3, 1, 1, 3, 1, 3],
            [3, 3, 1, 3, 3, 1],
        ]
    )
    cases = [
        "all probes agree",
        "only the last probe agrees",
        "no probe agrees",
        "a probe agrees, then one disagrees, then all agree",
        "the probe before last disagrees",
        "all but the last agree",
    ]
    expected = SUITE.reference().prediction_depth(preds, final)
    got = student.call("prediction_depth", preds, final)
    expect(
        isinstance(got, torch.Tensor) and tuple(got.shape) == (6,),
        "prediction_depth should return a tensor of shape (N,)",
    )
    for i, case in enumerate(cases):
        expect(int(got[i]) == int(expected[i]), f"wrong depth for a hand-made example where {case}")


@SUITE.test(grade_id="test_prediction_depth", points=1, uses=("prediction_depth",))
def depth_target_is_final_prediction(student) -> None:
    """prediction_depth compares the probes with the given final prediction and checks shapes"""
    g = torch.Generator().manual_seed(302)
    preds, final = _structured_probes(g, 5, 200)
    # a different "label" vector: the probes settle on `final`, but we ask for agreement with `other`
    other = torch.where(torch.rand(200, generator=g) < 0.5, final, (final + 1) % 5)
    expected = SUITE.reference().prediction_depth(preds, other)
    got = student.call("prediction_depth", preds, other)
    expect_equal(got, expected, "depths measured against the final_pred argument")
    expect_raises(
        student,
        "prediction_depth",
        preds,
        other[:-1],
        what="final_pred does not have one entry per column of probe_preds",
    )
    expect_raises(student, "prediction_depth", preds[0], other, what="probe_preds is not 2-D")


# ---------------------------------------------------------------------------------------------
# depth_analysis


def _analysis_data(g: torch.Generator, n: int, max_depth: int, noise: float = 0.15):
    depths = torch.randint(0, max_depth + 1, (n,), generator=g)
    depths[: max_depth + 1] = torch.arange(max_depth + 1)  # every depth occurs
    confidence = (1.0 - 0.08 * depths + noise * torch.rand(n, generator=g)).clamp(0.05, 1.0)
    correct = torch.rand(n, generator=g) < (0.98 - 0.1 * depths)
    return depths, confidence, correct


@SUITE.test(grade_id="test_depth_analysis", points=1, uses=("depth_analysis",))
def analysis_spearman(student) -> None:
    """depth_analysis reports the two-sided Spearman rank correlation (ties averaged) and its p-value"""
    g = torch.Generator().manual_seed(401)
    for n, max_depth, noise in [(60, 5, 1.5), (200, 4, 0.15)]:
        depths, confidence, correct = _analysis_data(g, n, max_depth, noise)
        expected = SUITE.reference().depth_analysis(depths, confidence, correct)
        got = student.call("depth_analysis", depths, confidence, correct)
        expect(isinstance(got, dict), f"depth_analysis should return a dict, got {type(got).__name__}")
        for key in ("spearman_rho", "p_value"):
            expect(key in got, f"the result of depth_analysis has no key {key!r}")
            value = got[key]
            expect(
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                f"{key} should be a finite Python float",
            )
        expect(
            abs(got["spearman_rho"] - expected["spearman_rho"]) <= 1e-6,
            f"spearman_rho is wrong for {n} examples with tied depths",
        )
        expect(
            abs(got["p_value"] - expected["p_value"]) <= 1e-3 * expected["p_value"] + 1e-12,
            f"p_value is wrong for {n} examples (two-sided test expected)",
        )


@SUITE.test(grade_id="test_depth_analysis", points=1, uses=("depth_analysis",))
def analysis_per_depth(student) -> None:
    """depth_analysis gives count, accuracy and mean confidence per depth (NaN where a depth is empty)"""
    g = torch.Generator().manual_seed(402)
    depths, confidence, correct = _analysis_data(g, 150, 4)
    for num_depths in (None, 7):
        kwargs = {} if num_depths is None else {"num_depths": num_depths}
        expected = SUITE.reference().depth_analysis(depths, confidence, correct, **kwargs)
        got = student.call("depth_analysis", depths, confidence, correct, **kwargs)
        expect(isinstance(got, dict), f"depth_analysis should return a dict, got {type(got).__name__}")
        for key in ("count", "accuracy", "mean_confidence"):
            expect(
                key in got and isinstance(got[key], torch.Tensor),
                f"the result of depth_analysis should hold a tensor under {key!r}",
            )
            e, a = expected[key].double(), got[key].double()
            expect_shape(a, tuple(e.shape), f"{key} with num_depths={num_depths}")
            empty = torch.isnan(e)
            if key != "count":
                expect(bool(torch.isnan(a[empty]).all()), f"{key} should be NaN for depths with no examples")
            expect_close(a[~empty], e[~empty], f"{key} with num_depths={num_depths}", atol=1e-6, rtol=1e-6)
