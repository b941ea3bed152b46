"""Hidden tests of 05_self_distillation (distillation loss, self-distillation objective, training runs)."""

from __future__ import annotations

import torch

from autograder.suite import Suite, expect, expect_close

SUITE = Suite("05_self_distillation")


def _logits(seed: int, n: int, c: int, scale: float = 3.0, k: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n, c) if k is None else (k, n, c)
    return scale * torch.randn(*shape, generator=g, dtype=torch.float64)


def _labels(seed: int, n: int, c: int) -> torch.Tensor:
    return torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))


def _ref_grads(fn, *tensors: torch.Tensor, **kwargs) -> tuple[torch.Tensor, list]:
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    loss = fn(*leaves, **kwargs)
    loss.backward()
    return loss.detach(), [leaf.grad for leaf in leaves]


def _is_zero(grad) -> bool:
    return grad is None or float(grad.abs().max()) == 0.0


# ---------------------------------------------------------------------------------------------
# Exercise 1: distillation_loss (3 points)


@SUITE.test(grade_id="test_distillation_loss", points=1, uses=("distillation_loss",))
def distillation_value(student):
    """distillation_loss matches T^2 * KL(teacher || student), batch mean, for several temperatures"""
    for i, (n, c, T) in enumerate([(32, 10, 1.0), (17, 5, 3.0), (40, 100, 0.5), (8, 2, 6.0)]):
        s, t = _logits(100 + i, n, c), _logits(200 + i, n, c)
        out = student.call("distillation_loss", s, t, T)
        expect(isinstance(out, torch.Tensor) and out.numel() == 1, "distillation_loss should return a scalar tensor")
        expect_close(
            out.reshape(()),
            SUITE.reference().distillation_loss(s, t, T),
            f"distillation loss of random logits at T={T}",
            atol=1e-6,
            rtol=1e-4,
        )


@SUITE.test(grade_id="test_distillation_loss", points=1, uses=("distillation_loss",))
def distillation_gradients(student):
    """the teacher gets no gradient and the student's gradient is right"""
    s, t = _logits(300, 24, 10), _logits(301, 24, 10)
    for T in (1.0, 4.0):
        got = student.probe(SUITE.probes().distillation_run, s, t, T)
        expect(_is_zero(got["teacher_grad"]), "the teacher logits received a gradient: the teacher must be detached")
        _, (grad_s, _) = _ref_grads(SUITE.reference().distillation_loss, s, t, T=T)
        expect(got["student_grad"] is not None, "the student logits received no gradient")
        expect_close(
            got["student_grad"], grad_s, f"gradient with respect to the student logits at T={T}", atol=1e-7, rtol=1e-4
        )


@SUITE.test(grade_id="test_distillation_loss", points=1, uses=("distillation_loss",))
def distillation_stable_and_checked(student):
    """finite and right for extreme logits, zero for identical inputs, ValueError on bad input"""
    s, t = _logits(400, 16, 10, scale=80.0), _logits(401, 16, 10, scale=80.0)
    out = student.call("distillation_loss", s, t, 2.0)
    expect(
        isinstance(out, torch.Tensor) and bool(torch.isfinite(out).all()),
        "distillation_loss is not finite for large logits (use log_softmax, not log of softmax)",
    )
    expect_close(
        out.reshape(()),
        SUITE.reference().distillation_loss(s, t, 2.0),
        "distillation loss of large logits",
        atol=1e-5,
        rtol=1e-4,
    )
    same = student.call("distillation_loss", s, s.clone(), 2.0)
    expect(abs(float(same)) < 1e-8, "the distillation loss of a student equal to its teacher should be 0")
    probe = SUITE.probes().error_name
    bad = [
        ((_logits(1, 8, 10), _logits(2, 8, 5), 2.0), "student and teacher logits of different shapes"),
        ((_logits(1, 8, 10)[0], _logits(2, 8, 10)[0], 2.0), "1-D logits"),
        ((_logits(1, 8, 10), _logits(2, 8, 10), 0.0), "T = 0"),
    ]
    for args, what in bad:
        name = student.probe(probe, "distillation_loss", *args)
        expect(name == "ValueError", f"distillation_loss should raise ValueError for {what} (got {name})")


# ---------------------------------------------------------------------------------------------
# Exercise 2: self_distillation_loss (4 points)


def _sd_case(seed: int, k: int, n: int = 20, c: int = 10):
    return list(_logits(seed, n, c, k=k).unbind(0)), _labels(seed + 1, n, c)


def _ref_sd(logits, y, alpha, T, features=None, hint_weight=0.0):
    ref = SUITE.reference()
    leaves = [z.detach().clone().requires_grad_(True) for z in logits]
    feats = None if features is None else [f.detach().clone().requires_grad_(True) for f in features]
    loss = ref.self_distillation_loss(leaves, y, alpha, T, features=feats, hint_weight=hint_weight)
    loss.backward()
    return loss.detach(), [z.grad for z in leaves], None if feats is None else [f.grad for f in feats]


@SUITE.test(grade_id="test_self_distillation_loss", points=1, uses=("self_distillation_loss",))
def self_distillation_value(student):
    """the objective matches (1-alpha) CE on every exit + alpha KD from the deepest into each shallower one"""
    for i, (k, alpha, T) in enumerate([(3, 0.5, 3.0), (4, 0.3, 2.0), (2, 0.8, 1.0), (5, 0.1, 4.0)]):
        logits, y = _sd_case(500 + i, k)
        got = student.probe(SUITE.probes().self_distillation_run, logits, y, alpha, T)
        want, _, _ = _ref_sd(logits, y, alpha, T)
        expect_close(got["loss"], want, f"objective with {k} exits, alpha={alpha}, T={T}", atol=1e-6, rtol=1e-5)


@SUITE.test(grade_id="test_self_distillation_loss", points=1, uses=("self_distillation_loss",))
def self_distillation_gradients(student):
    """each exit gets the right gradient; the deepest exit learns from the labels only"""
    for i, (k, alpha, T) in enumerate([(3, 0.5, 3.0), (4, 0.7, 2.0)]):
        logits, y = _sd_case(600 + i, k)
        got = student.probe(SUITE.probes().self_distillation_run, logits, y, alpha, T)
        _, want, _ = _ref_sd(logits, y, alpha, T)
        for j in range(k):
            expect(got["grads"][j] is not None, f"exit {j + 1} of {k} received no gradient")
            where = "the deepest exit" if j == k - 1 else f"shallow exit {j + 1}"
            expect_close(
                got["grads"][j], want[j], f"gradient of {where} ({k} exits, alpha={alpha})", atol=1e-7, rtol=1e-4
            )


@SUITE.test(grade_id="test_self_distillation_loss", points=1, uses=("self_distillation_loss",))
def self_distillation_alpha_limits(student):
    """alpha = 0 gives the plain sum of cross-entropies, alpha = 1 pure distillation"""
    logits, y = _sd_case(700, 3)
    for alpha in (0.0, 1.0, 0.25):
        got = student.probe(SUITE.probes().self_distillation_run, logits, y, alpha, 3.0)
        want, _, _ = _ref_sd(logits, y, alpha, 3.0)
        expect_close(got["loss"], want, f"objective at alpha={alpha}", atol=1e-6, rtol=1e-5)


@SUITE.test(grade_id="test_self_distillation_loss", points=1, uses=("self_distillation_loss",))
def self_distillation_feature_hint(student):
    """the feature hint pulls shallow features towards the detached deepest ones, scaled by hint_weight"""
    logits, y = _sd_case(800, 3)
    feats = list(_logits(801, 20, 6, scale=1.0, k=3).unbind(0))
    probe = SUITE.probes().self_distillation_run
    plain = student.probe(probe, logits, y, 0.5, 3.0)
    off = student.probe(probe, logits, y, 0.5, 3.0, features=feats, hint_weight=0.0)
    expect_close(off["loss"], plain["loss"], "objective with features but hint_weight=0", atol=1e-7, rtol=1e-6)
    for w in (0.5, 2.0):
        got = student.probe(probe, logits, y, 0.5, 3.0, features=feats, hint_weight=w)
        want, _, want_f = _ref_sd(logits, y, 0.5, 3.0, features=feats, hint_weight=w)
        expect_close(got["loss"], want, f"objective with a feature hint of weight {w}", atol=1e-6, rtol=1e-5)
        fg = got["feature_grads"]
        expect(_is_zero(fg[-1]), "the deepest exit's features received a hint gradient: detach them")
        for j in range(len(feats) - 1):
            expect(fg[j] is not None, f"the features of exit {j + 1} received no gradient")
            expect_close(fg[j], want_f[j], f"hint gradient of exit {j + 1}'s features", atol=1e-7, rtol=1e-4)
    bad = student.probe(
        SUITE.probes().error_name, "self_distillation_loss", logits, y, 0.5, 3.0, features=feats[:2], hint_weight=1.0
    )
    expect(
        bad == "ValueError",
        f"self_distillation_loss should raise ValueError when features has the wrong number of entries (got {bad})",
    )


# ---------------------------------------------------------------------------------------------
# Exercise 3: train_exit_model (3 points)


def _run(loss: str, config: dict, seed: int, num_epochs: int, **extra: float) -> dict:
    return {"loss": loss, "config": config, "seed": seed, "num_epochs": num_epochs, **extra}


TAMPER = 0.25  # what the probe adds to the cached checkpoints before the repeated run (a trusted tripwire)


def _tampered(state: dict) -> dict:
    """The weights a run that reloads a checkpoint tampered by the probe comes back with (judge side)."""
    return {k: v + TAMPER if v.is_floating_point() else v for k, v in state.items()}


def _same_state(a: dict, b: dict) -> bool:
    """Bit-identical weights: for a checkpoint loaded back, or a training step that changed nothing."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _same_run(a: dict, b: dict, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Weights of two training runs that agree up to the run-to-run noise of GPU kernels.

    On CUDA, kernels that accumulate with atomics (e.g. the backward pass of adaptive pooling) make two
    same-seed runs differ in the last bits; a run from another seed (other initial weights) or another
    data order differs by orders of magnitude more. Integer buffers (batch counters) must be equal.
    """
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.is_floating_point():
            if not torch.allclose(x.double(), y.double(), rtol=rtol, atol=atol):
                return False
        elif not torch.equal(x, y):
            return False
    return True


@SUITE.test(grade_id="test_train_exit_model", points=0.75, uses=("train_exit_model",))
def train_fresh_seeded_model(student):
    """a fresh model per call, initialised from the seed: same seed, same weights; other seed, other weights

    Each run gets new data tensors (equal for the repeated run), and a same-seed run on other data must end
    elsewhere, so an answer remembered from an earlier call (by seed or by object) does not pass for seeding.
    """
    cfg = {"name": "probe", "objective": "sum_ce"}
    runs = [_run("sum_ce", cfg, 3, 1), _run("sum_ce", cfg, 3, 1), _run("sum_ce", cfg, 4, 1)]
    runs.append(_run("sum_ce", cfg, 3, 1, data=1))
    got = student.probe(SUITE.probes().train_runs, runs, False)
    expect(all(r["state"] for r in got), "the returned model has no weights")
    expect(
        _same_run(got[0]["state"], got[1]["state"]),
        "two runs with the same seed, objective and data ended with different weights: seed the run "
        "(model initialisation, shuffling, augmentation) from `seed`",
    )
    expect(
        not _same_run(got[0]["state"], got[2]["state"]),
        "runs with different seeds ended with (nearly) identical weights",
    )
    expect(
        not _same_run(got[0]["state"], got[3]["state"]),
        "a run with the same seed on other training data ended with the first run's weights: train a fresh "
        "model on the splits given, every call",
    )


@SUITE.test(grade_id="test_train_exit_model", points=0.75, uses=("train_exit_model",))
def train_cache_key_includes_run(student):
    """the checkpoint cache tells objectives and seeds apart and reloads an identical run

    Before the identical run the probe adds a constant to the cached checkpoints (a trusted tripwire): only a run
    that really loads its checkpoint through fit comes back with the first run's weights plus that constant; a
    seeded retrain without a cache, or a copy kept in memory, comes back without it.
    """
    a = {"name": "probe", "objective": "sum_ce"}
    b = {"name": "probe", "objective": "first_exit_ce"}
    runs = [_run("sum_ce", a, 5, 1), _run("first_exit_ce", b, 5, 1), _run("sum_ce", a, 6, 1)]
    runs.append(_run("sum_ce", a, 5, 1, tamper=TAMPER))
    got = student.probe(SUITE.probes().train_runs, runs, True)
    expect(
        not _same_state(got[0]["state"], got[1]["state"]),
        "a run with another objective loaded the first run's checkpoint: put the objective's config "
        "into the config given to fit",
    )
    expect(
        not _same_state(got[0]["state"], got[2]["state"]),
        "a run with another seed loaded the first run's checkpoint: put the seed into the config given to fit",
    )
    expect(
        _same_state(_tampered(got[0]["state"]), got[3]["state"]),
        "re-running an identical run did not load its checkpoint from the cache (is the config passed to fit?)",
    )


@SUITE.test(grade_id="test_train_exit_model", points=0.75, uses=("train_exit_model",))
def train_uses_loss_and_budget(student):
    """trains with the given loss for exactly num_epochs epochs on a model shaped like the data"""
    cfg = {"name": "probe", "objective": "first_exit_ce"}
    got = student.probe(
        SUITE.probes().train_runs, [_run("first_exit_ce", cfg, 7, 0), _run("first_exit_ce", cfg, 7, 2)], False
    )
    expect(got[1]["num_records"] == 2, "the history should hold one record per epoch of the requested budget")
    before, after = got[0]["state"], got[1]["state"]
    head = [k for k in before if k.startswith("exits.2.") and k.endswith(("weight", "bias"))]
    first = [k for k in before if k.startswith("exits.0.") and k.endswith("weight")]
    expect(bool(head) and bool(first), "the model does not look like an EarlyExitResNet with 3 exits")
    expect(
        all(torch.equal(before[k], after[k]) for k in head),
        "a loss that only uses the first exit changed the final exit's weights: train with the given loss_fn",
    )
    expect(
        not all(torch.equal(before[k], after[k]) for k in first),
        "training with the given loss did not change the first exit",
    )


@SUITE.test(grade_id="test_train_exit_model", points=0.75, uses=("train_exit_model",))
def train_changes_every_group(student):
    """one epoch with a loss on every exit changes every parameter group: the stem, every stage and every exit head

    The comparison of objectives assumes the whole network trains under each; a run that freezes the backbone
    (IC-only) or the deepest exit (the teacher) trains another network.
    """
    cfg = {"name": "probe", "objective": "sum_ce"}
    got = student.probe(SUITE.probes().train_runs, [_run("sum_ce", cfg, 8, 0), _run("sum_ce", cfg, 8, 1)], False)
    before, after = got[0]["state"], got[1]["state"]
    groups = {"stem": "stem."}
    groups.update({f"stage {i + 1}": f"stages.{i}." for i in range(3)})
    groups.update({f"exit {i + 1}": f"exits.{i}." for i in range(3)})
    learnable = [k for k in before if k.endswith(("weight", "bias"))]
    missing = [g for g, prefix in groups.items() if not any(k.startswith(prefix) for k in learnable)]
    expect(not missing, f"the model does not look like an EarlyExitResNet with 3 stages and 3 exits ({missing})")
    frozen = [
        g
        for g, prefix in groups.items()
        if all(torch.equal(before[k], after[k]) for k in learnable if k.startswith(prefix))
    ]
    expect(
        not frozen,
        f"after one epoch these parts of the network did not change: {', '.join(frozen)}; train every parameter "
        "(do not freeze any part of the network)",
    )
