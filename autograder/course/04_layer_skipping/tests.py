"""Hidden tests of notebook 04 (layer skipping: ConvNet-AIG gates, BlockDrop)."""

from __future__ import annotations

import torch

from autograder.suite import Suite, as_tensor, expect, expect_close, expect_equal, expect_shape, seeded

SUITE = Suite("04_layer_skipping")


def _gumbel(shape: tuple, g: torch.Generator) -> torch.Tensor:
    u = torch.rand(*shape, generator=g).clamp(1e-6, 1 - 1e-6)
    return -torch.log(-torch.log(u))


# --------------------------------------------------------------------------------- st_gumbel_gate


@SUITE.test(grade_id="test_st_gumbel_gate", points=1, uses=("st_gumbel_gate",))
def gumbel_forward_is_hard(student):
    """training forward gives hard 0/1 decisions of argmax(logits + noise)"""
    g = seeded(401)
    logits, noise = torch.randn(64, 2, generator=g) * 2, _gumbel((64, 2), g)
    out = as_tensor(student.call("st_gumbel_gate", logits, 0.7, True, noise), "gate decisions")
    expect_shape(out, (64,), "gate decisions")
    expect(bool(((out == 0) | (out == 1)).all()), "gate decisions in training mode must be exactly 0 or 1")
    expect_equal(
        out,
        SUITE.reference().st_gumbel_gate(logits, 0.7, True, noise).detach().double(),
        "gate decisions with the given Gumbel noise",
    )


@SUITE.test(grade_id="test_st_gumbel_gate", points=1, uses=("st_gumbel_gate",))
def gumbel_straight_through_gradient(student):
    """the backward pass uses the soft Gumbel-softmax gradient at the given temperature"""
    g = seeded(402)
    logits, noise, weights = torch.randn(48, 2, generator=g), _gumbel((48, 2), g), torch.randn(48, generator=g)
    for tau in (1.0, 0.4):
        got = student.probe(SUITE.probes().gumbel_gradient, logits, noise, tau, weights)
        leaf = logits.clone().requires_grad_(True)
        (SUITE.reference().st_gumbel_gate(leaf, tau, True, noise) * weights).sum().backward()
        grad = as_tensor(got["grad"], "gradient")
        expect(bool(grad.abs().sum() > 0), "no gradient reaches the logits through the gate")
        expect_close(grad, leaf.grad, f"gradient with respect to the logits (tau={tau})", atol=1e-5, rtol=1e-3)


@SUITE.test(grade_id="test_st_gumbel_gate", points=1, uses=("st_gumbel_gate",))
def gumbel_eval_is_deterministic(student):
    """eval mode is the deterministic argmax of the logits (no noise, no sampling)"""
    g = seeded(403)
    logits = torch.randn(200, 2, generator=g) * 0.3
    noise = _gumbel((200, 2), g) * 3
    expected = (logits[:, 1] > logits[:, 0]).double()
    with_noise = as_tensor(student.call("st_gumbel_gate", logits, 1.0, False, noise), "eval decisions")
    expect_equal(with_noise, expected, "eval-mode decisions (noise must be ignored in eval mode)")
    first = as_tensor(student.call("st_gumbel_gate", logits, 1.0, False), "eval decisions")
    second = as_tensor(student.call("st_gumbel_gate", logits, 1.0, False), "eval decisions")
    expect_equal(first, expected, "eval-mode decisions")
    expect_equal(second, first, "two eval-mode calls on the same logits")


@SUITE.test(grade_id="test_st_gumbel_gate", points=1, uses=("st_gumbel_gate",))
def gumbel_finite_in_float16(student):
    """float16 logits (GPU mixed precision) give finite 0/1 gates even when a uniform draw is exactly 0"""
    g = seeded(404)
    logits = (torch.randn(96, 2, generator=g) * 2).half()
    for tau in (1.0, 0.5):
        got = student.probe(SUITE.probes().gumbel_zero_draw, logits, tau)
        out = as_tensor(got["out"], "gate decisions")
        expect_shape(out, (96,), "gate decisions for float16 logits")
        expect(
            bool(torch.isfinite(out).all()),
            "with float16 logits and a uniform draw of exactly 0 the gate is NaN or infinite: draw u in "
            "float32 (in float16 a clamp to [1e-10, 1 - 1e-7] rounds to [0, 1], and log(0) = -inf)",
        )
        expect(bool(((out == 0) | (out == 1)).all()), "gate decisions for float16 logits must be exactly 0 or 1")
        if got["grad"] is not None:
            expect(
                bool(torch.isfinite(as_tensor(got["grad"], "gradient")).all()),
                "the gradient of a float16 gate is NaN or infinite when a uniform draw is exactly 0",
            )


# --------------------------------------------------------------------------------- Gate


def _gate_inputs(channels: int, seed: int) -> list:
    g = seeded(seed)
    return [
        torch.randn(8, channels, 7, 7, generator=g),
        torch.randn(1, channels, 4, 4, generator=g),
        torch.randn(5, channels, 14, 14, generator=g),
    ]


@SUITE.test(grade_id="test_Gate", points=1, uses=("Gate",))
def gate_shapes_any_batch(student):
    """Gate maps (N, C, H, W) to (N, 2) logits in train and eval mode, also for batch 1 in eval"""
    inputs = _gate_inputs(12, 411)
    got = student.probe(SUITE.probes().gate_module_run, 12, 0, inputs)
    expect(len(got["eval"]) == 3 and len(got["train"]) == 2, "the gate did not return one output per input")
    for out, x in zip(got["eval"], inputs):
        expect_shape(out, (x.shape[0], 2), "eval-mode gate logits")
    for out, x in zip(got["train"], [inputs[0], inputs[2]]):
        expect_shape(out, (x.shape[0], 2), "train-mode gate logits")
    expect(all(bool(torch.isfinite(as_tensor(o, "logits")).all()) for o in got["eval"]), "gate logits are not finite")


@SUITE.test(grade_id="test_Gate", points=1, uses=("Gate",))
def gate_uses_global_average_pool(student):
    """the gate sees only the per-channel spatial average of its input"""
    g = seeded(412)
    x = torch.randn(6, 10, 6, 6, generator=g)
    perm = torch.randperm(36, generator=g)
    shuffled = x.flatten(2)[:, :, perm].reshape(6, 10, 6, 6)
    same_mean = x.mean(dim=(2, 3), keepdim=True).expand_as(x).contiguous()
    got = student.probe(SUITE.probes().gate_module_run, 10, 3, [x, shuffled, same_mean])
    a, b, c = (as_tensor(o, "eval-mode gate logits") for o in got["eval"])
    expect_close(b, a, "logits after shuffling pixels (they should not change)", atol=1e-5, rtol=1e-4)
    expect_close(c, a, "logits of an input with the same channel means (they should not change)", atol=1e-5, rtol=1e-4)


@SUITE.test(grade_id="test_Gate", points=1, uses=("Gate",))
def gate_starts_open(student):
    """a freshly built gate opens for most inputs (bias initialised towards 'execute')"""
    inputs = [torch.randn(32, 16, 5, 5, generator=seeded(413 + k)) for k in range(3)]
    rates = []
    for seed in (0, 1):
        got = student.probe(SUITE.probes().gate_module_run, 16, seed, inputs)
        for out in got["eval"]:
            logits = as_tensor(out, "eval-mode gate logits")
            rates.append(float(torch.softmax(logits, 1)[:, 1].mean()))
    expect(
        min(rates) >= 0.75,
        "a fresh gate should open with probability of at least 0.75 (see the init described in the exercise)",
    )


# --------------------------------------------------------------------------------- GatedBlock


def _block_case(seed: int, n: int, spec: dict, open_mask: torch.Tensor | None = None):
    g = seeded(seed)
    x = torch.randn(n, spec["in"], 8, 8, generator=g)
    logits = torch.randn(n, 2, generator=g)
    if open_mask is not None:
        logits[:, 1] = logits[:, 0] + torch.where(open_mask, 1.0, -1.0) * (0.1 + logits[:, 1].abs())
    return x, logits


def _reference_block(spec: dict, logits: torch.Tensor, x: torch.Tensor, training: bool) -> torch.Tensor:
    probes = SUITE.probes()
    block = probes.make_block(spec["in"], spec["out"], spec["stride"], spec["seed"], bool(spec.get("coupled", False)))
    gated = SUITE.reference().GatedBlock(block, probes.FixedGate(logits), gate_fn=probes.probe_gate_fn, tau=1.0)
    gated.train(training)
    with torch.no_grad():
        return gated(x.clone())


@SUITE.test(grade_id="test_GatedBlock", points=0.75, uses=("GatedBlock",))
def gated_block_really_skips(student):
    """in eval mode the block body runs once, only on the samples whose gate is open"""
    # The body's BatchNorms use the statistics of the batch they are given (decided here, from outputs):
    # a body that also runs on closed samples (masked, or with hooks dodged) gives the open ones other values.
    spec = {"in": 6, "out": 6, "stride": 1, "seed": 5, "coupled": True}
    for seed, n, opened in ((421, 20, None), (423, 7, 1)):
        mask = torch.rand(n, generator=seeded(seed)) < 0.4
        if opened is not None:
            mask = torch.arange(n) == opened  # a single open gate
        x, logits = _block_case(seed + 1, n, spec, mask)
        x[~mask] *= 50.0  # closed samples far from the open ones: their statistics would show
        got = student.probe(SUITE.probes().gated_block_run, spec, logits, x, False)
        out = as_tensor(got["out"], "gated block output")
        expected = _reference_block(spec, logits, x, False)
        expect_shape(out, tuple(expected.shape), "eval-mode output of a gated block")
        close = torch.isclose(out, expected.double(), atol=1e-4, rtol=1e-3).flatten(1).all(1)
        expect(
            bool(close.all()),
            f"{int((~close).sum())} of {n} samples differ on a block whose body normalises with the statistics "
            f"of the batch it is given: in eval mode the residual body must process exactly the samples whose "
            f"gate is open (real skipping, not masking)",
        )


@SUITE.test(grade_id="test_GatedBlock", points=0.75, uses=("GatedBlock",))
def gated_block_eval_output_in_order(student):
    """eval outputs match shortcut + gated residual for every sample, in the original order"""
    for seed, spec in (
        (431, {"in": 4, "out": 8, "stride": 2, "seed": 7}),
        (432, {"in": 6, "out": 6, "stride": 1, "seed": 8}),
    ):
        mask = torch.rand(17, generator=seeded(seed)) < 0.5
        mask[0], mask[-1] = False, True
        x, logits = _block_case(seed + 100, 17, spec, mask)
        got = student.probe(SUITE.probes().gated_block_run, spec, logits, x, False)
        expect_close(
            got["out"],
            _reference_block(spec, logits, x, False),
            f"eval-mode output of a gated block (stride {spec['stride']})",
            atol=1e-4,
            rtol=1e-3,
        )


@SUITE.test(grade_id="test_GatedBlock", points=0.5, uses=("GatedBlock",))
def gated_block_train_dense_mask(student):
    """training mode computes relu(shortcut(x) + g * residual(x)) for the whole batch"""
    spec = {"in": 4, "out": 8, "stride": 2, "seed": 9}
    x, logits = _block_case(441, 12, spec)
    got = student.probe(SUITE.probes().gated_block_run, spec, logits, x, True)
    expect_close(
        got["out"],
        _reference_block(spec, logits, x, True),
        "training-mode output of a gated block",
        atol=1e-4,
        rtol=1e-3,
    )


@SUITE.test(grade_id="test_GatedBlock", points=0.5, uses=("GatedBlock",))
def gated_block_eval_deterministic_by_default(student):
    """in eval mode two passes agree and draw no random numbers, also with a rule that samples unless told not to"""
    # The caller passes no training flag: the block must hand its own mode to the gate (gates near the boundary,
    # so Gumbel noise at evaluation would flip many decisions).
    spec = {"in": 6, "out": 6, "stride": 1, "seed": 11}
    g = seeded(445)
    x = torch.randn(64, 6, 8, 8, generator=g)
    logits = torch.randn(64, 2, generator=g) * 0.05
    got = student.probe(SUITE.probes().gated_block_default_eval, spec, logits, x)
    expected = (logits[:, 1] > logits[:, 0]).double()
    first, second = (as_tensor(d, "gate decisions") for d in got["gates"])
    expect_equal(first, expected, "eval-mode decisions of a GatedBlock (the block must pass training=False)")
    expect_equal(second, first, "gate decisions of two eval passes over the same batch")
    expect_close(got["out"][1], got["out"][0], "outputs of two eval passes over the same batch", atol=0, rtol=0)
    expect(
        got["rng_untouched"],
        "an eval-mode pass of the GatedBlock drew random numbers: pass the block's mode to the gate function "
        "(training=self.training), so that evaluation is deterministic without the caller saying so",
    )


@SUITE.test(grade_id="test_GatedBlock", points=0.5, uses=("GatedBlock",))
def gated_block_gradients_reach_gate(student):
    """in training, the gate learns through the block output (straight-through) and through last_gate (rate loss)"""
    spec = {"in": 6, "out": 12, "stride": 2, "seed": 12}
    g = seeded(446)
    x, weights = torch.randn(16, 6, 8, 8, generator=g), torch.randn(16, 12, 4, 4, generator=g)
    got = student.probe(SUITE.probes().gated_block_gradients, spec, x, weights)
    expect(got["body_from_output"] > 0, "no gradient reaches the block body in training mode")
    expect(
        got["gate_from_output"] > 0,
        "no gradient reaches the gate's parameters from the block output: the residual must be multiplied by the "
        "gate decision itself (with its straight-through gradient), not by a detached or re-thresholded copy",
    )
    expect(
        got["gate_from_rate"] > 0,
        "no gradient reaches the gate's parameters from last_gate: the target-rate loss could not train the gates "
        "(store the decisions with their gradient)",
    )


# --------------------------------------------------------------------------------- target_rate_loss


@SUITE.test(grade_id="test_target_rate_loss", points=1, uses=("target_rate_loss",))
def target_loss_value(student):
    """the loss averages over the batch per layer, then over layers"""
    g = seeded(451)
    gates = (torch.rand(40, 6, generator=g) < torch.linspace(0.1, 0.9, 6)).double()
    for target, lam in ((0.6, 2.0), (0.3, 0.5)):
        got = student.call("target_rate_loss", gates, target, lam)
        expect_close(
            got,
            SUITE.reference().target_rate_loss(gates, target, lam),
            f"loss for target {target}",
            atol=1e-7,
            rtol=1e-5,
        )


@SUITE.test(grade_id="test_target_rate_loss", points=1, uses=("target_rate_loss",))
def target_loss_per_layer_targets(student):
    """per-layer targets (a tensor with one rate per layer) are supported"""
    g = seeded(452)
    gates = torch.rand(9, 4, generator=g).double()
    target = torch.tensor([1.0, 0.2, 0.5, 0.8], dtype=torch.float64)
    got = student.call("target_rate_loss", gates, target, 1.5)
    expect_close(
        got, SUITE.reference().target_rate_loss(gates, target, 1.5), "loss with per-layer targets", atol=1e-7, rtol=1e-5
    )


@SUITE.test(grade_id="test_target_rate_loss", points=1, uses=("target_rate_loss",))
def target_loss_gradient(student):
    """the loss is differentiable with respect to the gates, pushing rates towards the target"""
    g = seeded(453)
    gates = torch.rand(16, 5, generator=g).double()
    got = student.probe(SUITE.probes().target_gradient, gates, 0.5, 2.0)
    leaf = gates.clone().requires_grad_(True)
    SUITE.reference().target_rate_loss(leaf, 0.5, 2.0).backward()
    grad = as_tensor(got["grad"], "gradient")
    expect(bool(grad.abs().sum() > 0), "no gradient reaches the gates through the loss")
    expect_close(grad, leaf.grad, "gradient with respect to the gates", atol=1e-8, rtol=1e-5)


# --------------------------------------------------------------------------------- PolicyNet


@SUITE.test(grade_id="test_PolicyNet", points=1, uses=("PolicyNet",))
def policy_one_probability_per_block(student):
    """PolicyNet gives one keep-probability in (0, 1) per block for every image"""
    g = seeded(455)
    inputs = [torch.randn(6, 1, 28, 28, generator=g), torch.randn(3, 1, 28, 28, generator=g)]
    got = student.probe(SUITE.probes().policy_run, 1, 9, 0, inputs)
    for mode in ("train", "eval"):
        for out, x in zip(got[mode], inputs):
            out = as_tensor(out, f"{mode}-mode keep-probabilities")
            expect_shape(out, (x.shape[0], 9), f"{mode}-mode keep-probabilities")
            expect(bool(((out > 0) & (out < 1)).all()), "keep-probabilities must lie strictly between 0 and 1")


@SUITE.test(grade_id="test_PolicyNet", points=1, uses=("PolicyNet",))
def policy_any_image_size_batch_one(student):
    """PolicyNet works on colour images of another size and on batch 1 in eval mode, deterministically"""
    g = seeded(456)
    inputs = [torch.rand(4, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32, generator=g)]
    # The repeat pass gets fresh batches (the same images permuted among new ones): no cache can answer it.
    perms = [torch.randperm(len(x), generator=g) for x in inputs]
    again = [torch.cat([torch.rand(2, 3, 32, 32, generator=g), x[p]]) for x, p in zip(inputs, perms)]
    got = student.probe(SUITE.probes().policy_run, 3, 5, 1, inputs, again)
    expect(len(got["eval"]) == len(got["eval_again"]) == len(inputs), "PolicyNet did not answer every batch")
    for out, second, x, p in zip(got["eval"], got["eval_again"], inputs, perms):
        expect_shape(out, (x.shape[0], 5), "eval-mode keep-probabilities")
        expect_shape(second, (x.shape[0] + 2, 5), "eval-mode keep-probabilities")
        expect_close(
            as_tensor(second, "keep-probabilities")[2:],
            as_tensor(out, "keep-probabilities")[p],
            "two eval-mode passes on the same images (the second in another batch, another order)",
            atol=1e-5,
            rtol=1e-4,
        )


# --------------------------------------------------------------------------------- blockdrop_reward


@SUITE.test(grade_id="test_blockdrop_reward", points=1, uses=("blockdrop_reward",))
def reward_correct_samples(student):
    """correct predictions earn 1 - (blocks used / K)^2"""
    g = seeded(461)
    policy = (torch.rand(30, 7, generator=g) < 0.5).float()
    correct = torch.ones(30, dtype=torch.bool)
    got = student.call("blockdrop_reward", policy, correct, 2.0)
    expect_close(
        got,
        SUITE.reference().blockdrop_reward(policy, correct, 2.0),
        "reward of correct predictions",
        atol=1e-6,
        rtol=1e-5,
    )


@SUITE.test(grade_id="test_blockdrop_reward", points=1, uses=("blockdrop_reward",))
def reward_wrong_samples_penalised(student):
    """wrong predictions receive the penalty -gamma, whatever the policy"""
    g = seeded(462)
    policy = (torch.rand(40, 5, generator=g) < 0.6).float()
    correct = torch.rand(40, generator=g) < 0.5
    for gamma in (1.0, 5.0):
        got = student.call("blockdrop_reward", policy, correct, gamma)
        expect_close(
            got,
            SUITE.reference().blockdrop_reward(policy, correct, gamma),
            f"rewards with gamma={gamma}",
            atol=1e-6,
            rtol=1e-5,
        )


# --------------------------------------------------------------------------------- reinforce_loss


def _reinforce_case(seed: int):
    g = seeded(seed)
    probs = torch.rand(24, 6, generator=g).double() * 0.9 + 0.05
    sampled = (torch.rand(24, 6, generator=g).double() < probs).double()
    return probs, sampled, torch.randn(24, generator=g).double(), torch.randn(24, generator=g).double()


@SUITE.test(grade_id="test_reinforce_loss", points=0.75, uses=("reinforce_loss",))
def reinforce_loss_value(student):
    """the loss is minus the mean advantage-weighted log-probability of the sampled policy"""
    args = _reinforce_case(471)
    got = student.call("reinforce_loss", *args)
    expect_close(got, SUITE.reference().reinforce_loss(*args), "REINFORCE loss", atol=1e-6, rtol=1e-4)


@SUITE.test(grade_id="test_reinforce_loss", points=0.75, uses=("reinforce_loss",))
def reinforce_policy_gradient(student):
    """the gradient with respect to the keep-probabilities matches the policy-gradient estimate"""
    probs, sampled, rs, rg = _reinforce_case(472)
    got = student.probe(SUITE.probes().reinforce_gradients, probs, sampled, rs, rg)
    leaf = probs.clone().requires_grad_(True)
    SUITE.reference().reinforce_loss(leaf, sampled, rs, rg).backward()
    expect_close(got["grad_probs"], leaf.grad, "gradient with respect to the keep-probabilities", atol=1e-6, rtol=1e-4)


@SUITE.test(grade_id="test_reinforce_loss", points=0.75, uses=("reinforce_loss",))
def reinforce_rewards_detached(student):
    """no gradient flows into the reward or the self-critical baseline"""
    got = student.probe(SUITE.probes().reinforce_gradients, *_reinforce_case(473))
    for key, what in (("grad_reward_sampled", "the sampled reward"), ("grad_reward_greedy", "the greedy baseline")):
        grad = as_tensor(got[key], "gradient")
        expect(bool((grad == 0).all()), f"gradient flows into {what}; it must be detached")
    expect(bool(as_tensor(got["grad_probs"], "gradient").abs().sum() > 0), "no gradient reaches the keep-probabilities")


@SUITE.test(grade_id="test_reinforce_loss", points=0.75, uses=("reinforce_loss",))
def reinforce_many_saturated_blocks(student):
    """the log-probability is a sum over blocks of log p or log(1 - p), exact for many blocks near 0 or 1"""
    # 64 blocks in float32, probabilities as close to 0 or 1 as a trained policy gets, and unlikely choices sampled:
    # a product of per-block probabilities underflows, and a clamp wider than [1e-6, 1 - 1e-6] changes the value.
    g = seeded(474)
    far = torch.rand(12, 64, generator=g) < 0.5
    probs = torch.where(far, 1e-4, 1 - 1e-4) * torch.ones(12, 64)
    probs = (probs + torch.rand(12, 64, generator=g) * 1e-5).float()
    sampled = (torch.rand(12, 64, generator=g) < 0.5).float()
    rs, rg = torch.randn(12, generator=g), torch.randn(12, generator=g)
    got = as_tensor(student.call("reinforce_loss", probs, sampled, rs, rg), "REINFORCE loss")
    expect(bool(torch.isfinite(got).all()), "the loss is not finite for 64 blocks with probabilities near 0 or 1")
    expect_close(
        got,
        SUITE.reference().reinforce_loss(probs, sampled, rs, rg),
        "REINFORCE loss for 64 blocks with keep-probabilities near 0 or 1",
        atol=1e-3,
        rtol=1e-4,
    )


# --------------------------------------------------------------------------------- expected_gated_macs


@SUITE.test(grade_id="test_expected_gated_macs", points=1, uses=("expected_gated_macs",))
def macs_match_reference(student):
    """expected MACs = base + every gate + each block weighted by its execution rate"""
    g = seeded(481)
    gates = (torch.rand(50, 6, generator=g) < 0.55).float()
    blocks = (torch.rand(6, generator=g) * 1e6 + 1e5).tolist()
    gate_costs = (torch.rand(6, generator=g) * 3e3 + 200).tolist()
    got = student.call("expected_gated_macs", gates, blocks, gate_costs, 12345.0)
    expect(
        isinstance(got, (int, float)) or (isinstance(got, torch.Tensor) and got.numel() == 1),
        "expected_gated_macs must return a number",
    )
    expect_close(
        got,
        SUITE.reference().expected_gated_macs(gates, blocks, gate_costs, 12345.0),
        "expected MACs",
        atol=1e-3,
        rtol=1e-6,
    )


@SUITE.test(grade_id="test_expected_gated_macs", points=1, uses=("expected_gated_macs",))
def macs_gate_cost_always_paid(student):
    """gates are paid even when every block is skipped"""
    gates = torch.zeros(10, 4)
    blocks, gate_costs = [1e6, 2e6, 3e6, 4e6], [100.0, 200.0, 300.0, 400.0]
    got = student.call("expected_gated_macs", gates, blocks, gate_costs, 500.0)
    expect_close(
        got,
        SUITE.reference().expected_gated_macs(gates, blocks, gate_costs, 500.0),
        "expected MACs with every gate closed",
        atol=1e-3,
        rtol=1e-6,
    )
    ones = torch.ones(3, 4)
    got = student.call("expected_gated_macs", ones, blocks, gate_costs, 500.0)
    expect_close(
        got,
        SUITE.reference().expected_gated_macs(ones, blocks, gate_costs, 500.0),
        "expected MACs with every gate open",
        atol=1e-3,
        rtol=1e-6,
    )
