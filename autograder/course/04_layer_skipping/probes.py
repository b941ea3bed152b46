"""Trusted probes for notebook 04: they run where the student's code lives and return plain data.

No reference answers here: only fixed gates, seeded (some batch-coupled) blocks and gradient read-outs.
Nothing here counts work: evidence kept in the student's process could be forged, so the judge decides
from outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from course_lib.models import BasicBlock


class FixedGate(nn.Module):
    """A stand-in gate that returns given (N, 2) logits whatever the input (the batch size must match)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("logits", logits.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != self.logits.shape[0]:
            raise ValueError("the gate must see the whole batch")
        return self.logits


def probe_gate_fn(logits: torch.Tensor, tau: float = 1.0, training: bool = True, **_: Any) -> torch.Tensor:
    """A stand-in decision rule: soft sigmoid of the logit difference in training, 0/1 in eval."""
    diff = logits[:, 1] - logits[:, 0]
    return torch.sigmoid(diff / tau) if training else (diff > 0).to(logits.dtype)


def make_block(in_channels: int, out_channels: int, stride: int, seed: int, coupled: bool = False) -> BasicBlock:
    """A course_lib BasicBlock with seeded weights and non-trivial BatchNorm statistics.

    coupled=True: the residual body's BatchNorms normalise with the statistics of the batch they receive,
    also in eval mode, so the body's output for one sample depends on which other samples it was given
    (the tripwire for real skipping; the judge builds the same block and computes the expected output).
    """
    torch.manual_seed(seed)
    block = BasicBlock(in_channels, out_channels, stride)
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        if coupled:
            for i, m in enumerate(list(block.residual)):
                if isinstance(m, nn.BatchNorm2d):
                    batch_stats = nn.BatchNorm2d(m.num_features, track_running_stats=False)
                    batch_stats.weight.copy_(m.weight)
                    batch_stats.bias.copy_(m.bias)
                    block.residual[i] = batch_stats
    return block


def gated_block_run(namespace: dict, spec: dict, gate_logits: torch.Tensor, x: torch.Tensor, training: bool) -> dict:
    """Run the student's GatedBlock on a seeded block with a fixed gate; return its output only.

    Nothing is counted here (a hook or a counter in this process could be dodged or rewritten): whether
    the body ran only on the open samples shows in the output of a batch-coupled block (spec["coupled"]).
    """
    block = make_block(spec["in"], spec["out"], spec["stride"], spec["seed"], bool(spec.get("coupled", False)))
    gated = namespace["GatedBlock"](block, FixedGate(gate_logits), gate_fn=probe_gate_fn, tau=1.0)
    gated.train(training)
    with torch.no_grad():
        out = gated(x.clone())
    return {"out": out.detach()}


def gate_module_run(namespace: dict, in_channels: int, seed: int, inputs: list) -> dict:
    """Build the student's Gate (seeded) and return its logits on each input, in train and eval mode."""
    torch.manual_seed(seed)
    gate = namespace["Gate"](in_channels)
    if not isinstance(gate, nn.Module):
        raise TypeError("Gate(...) must build an nn.Module")
    results: dict = {"train": [], "eval": []}
    with torch.no_grad():
        gate.train()
        for x in inputs:
            if x.shape[0] > 1:
                results["train"].append(gate(x.clone()).detach())
        gate.eval()
        for x in inputs:
            results["eval"].append(gate(x.clone()).detach())
    return results


def gumbel_gradient(
    namespace: dict, logits: torch.Tensor, noise: torch.Tensor, tau: float, weights: torch.Tensor
) -> dict:
    """Forward the student's st_gumbel_gate in training mode and read d(sum(w * g))/d logits."""
    leaf = logits.clone().requires_grad_(True)
    out = namespace["st_gumbel_gate"](leaf, tau=tau, training=True, noise=noise.clone())
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return {"out": out.detach() if isinstance(out, torch.Tensor) else out, "grad": torch.zeros_like(logits)}
    (out * weights).sum().backward()
    grad = leaf.grad if leaf.grad is not None else torch.zeros_like(logits)
    return {"out": out.detach(), "grad": grad.detach()}


@contextlib.contextmanager
def zero_uniform_draws() -> Iterator[None]:
    """Make torch.rand, torch.rand_like and Tensor.uniform_ return their lowest value (0 for U(0, 1)) meanwhile.

    A draw of exactly 0 happens on real hardware (about 2^-12 per float16 draw on a GPU); forcing it checks
    that a sampler clamps u away from 0 in a dtype where the clamp holds, whichever of these it uses.
    """
    rand, rand_like = torch.rand, torch.rand_like
    own_uniform = "uniform_" in torch.Tensor.__dict__
    uniform = torch.Tensor.uniform_

    def zero_rand(*args: Any, **kwargs: Any) -> torch.Tensor:
        with torch.no_grad():
            return rand(*args, **kwargs).zero_()

    def zero_rand_like(*args: Any, **kwargs: Any) -> torch.Tensor:
        with torch.no_grad():
            return rand_like(*args, **kwargs).zero_()

    def lowest_uniform(self: torch.Tensor, low: float = 0.0, high: float = 1.0, **_: Any) -> torch.Tensor:
        with torch.no_grad():
            return self.fill_(low)

    torch.rand, torch.rand_like = zero_rand, zero_rand_like
    torch.Tensor.uniform_ = lowest_uniform  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.rand, torch.rand_like = rand, rand_like
        if own_uniform:
            torch.Tensor.uniform_ = uniform  # type: ignore[method-assign]
        else:
            del torch.Tensor.uniform_


def gumbel_zero_draw(namespace: dict, logits: torch.Tensor, tau: float) -> dict:
    """The student's st_gumbel_gate in training mode, no noise given, with every uniform draw exactly 0.

    Returns the decisions and the gradient with respect to the logits as float64 (NaN stays NaN), and the
    dtype of the decisions.
    """
    leaf = logits.clone().requires_grad_(True)
    with zero_uniform_draws():
        out = namespace["st_gumbel_gate"](leaf, tau=tau, training=True)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"st_gumbel_gate must return a tensor, got {type(out).__name__}")
    grad = None
    if out.requires_grad:
        out.double().sum().backward()
        grad = None if leaf.grad is None else leaf.grad.detach().double()
    return {"out": out.detach().double(), "grad": grad, "dtype": str(out.dtype)}


def target_gradient(namespace: dict, gates: torch.Tensor, target: Any, lam: float) -> dict:
    """The student's target_rate_loss and its gradient with respect to the gates."""
    leaf = gates.clone().requires_grad_(True)
    loss = namespace["target_rate_loss"](leaf, target, lam)
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        loss.backward()
    grad = leaf.grad if leaf.grad is not None else torch.zeros_like(gates)
    return {"loss": loss.detach() if isinstance(loss, torch.Tensor) else loss, "grad": grad.detach()}


def reinforce_gradients(
    namespace: dict,
    probs: torch.Tensor,
    sampled: torch.Tensor,
    reward_sampled: torch.Tensor,
    reward_greedy: torch.Tensor,
) -> dict:
    """The student's reinforce_loss and its gradients with respect to probs and both rewards."""
    leaves = [t.clone().requires_grad_(True) for t in (probs, reward_sampled, reward_greedy)]
    loss = namespace["reinforce_loss"](leaves[0], sampled.clone(), leaves[1], leaves[2])
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        loss.backward()
    grads = [leaf.grad.detach() if leaf.grad is not None else torch.zeros_like(leaf) for leaf in leaves]
    return {
        "loss": loss.detach() if isinstance(loss, torch.Tensor) else loss,
        "grad_probs": grads[0],
        "grad_reward_sampled": grads[1],
        "grad_reward_greedy": grads[2],
    }


def policy_run(
    namespace: dict, in_channels: int, num_blocks: int, seed: int, inputs: list, again: list | None = None
) -> dict:
    """Build the student's PolicyNet (seeded) and return its outputs on each input, train and eval mode.

    `again`: a second list of eval-mode inputs, run after the first (the judge makes them fresh batches,
    the same images permuted among new ones, so a repeat pass cannot be answered from a cache).
    """
    torch.manual_seed(seed)
    policy = namespace["PolicyNet"](in_channels, num_blocks)
    if not isinstance(policy, nn.Module):
        raise TypeError("PolicyNet(...) must build an nn.Module")
    results: dict = {"train": [], "eval": [], "eval_again": []}
    with torch.no_grad():
        policy.train()
        for x in inputs:
            if x.shape[0] > 1:
                results["train"].append(policy(x.clone()).detach())
        policy.eval()
        for x in inputs:
            results["eval"].append(policy(x.clone()).detach())
        for x in again or []:
            results["eval_again"].append(policy(x.clone()).detach())
    return results


def noisy_by_default_gate_fn(logits: torch.Tensor, tau: float = 1.0, training: bool = True, **_: Any) -> torch.Tensor:
    """A stand-in straight-through rule that samples logistic noise unless told training=False (as st_gumbel_gate's
    signature does): a block that does not pass its mode gets noisy decisions in eval."""
    diff = logits[:, 1] - logits[:, 0]
    if not training:
        return (diff > 0).to(logits.dtype)
    noise = torch.rand(diff.shape, dtype=torch.float32).clamp(1e-6, 1 - 1e-6).logit().to(diff.dtype)
    soft = torch.sigmoid((diff + noise) / tau)
    hard = (soft > 0.5).to(soft.dtype)
    return hard - soft.detach() + soft


class PooledLinearGate(nn.Module):
    """A stand-in learnable gate: global average pool, then Linear(C, 2), seeded, open for most inputs."""

    def __init__(self, in_channels: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(in_channels, 2)
        with torch.no_grad():
            self.fc.weight.mul_(3.0)
            self.fc.bias.copy_(torch.tensor([0.0, 0.5]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def gated_block_default_eval(namespace: dict, spec: dict, gate_logits: torch.Tensor, x: torch.Tensor) -> dict:
    """The student's GatedBlock with a decision rule that samples unless told training=False, in eval mode, run twice on the same input; returns both outputs and decisions and whether torch's global random number
    generator was left untouched (an eval pass that samples noise moves it)."""
    block = make_block(spec["in"], spec["out"], spec["stride"], spec["seed"])
    gated = namespace["GatedBlock"](block, FixedGate(gate_logits), gate_fn=noisy_by_default_gate_fn, tau=1.0)
    gated.eval()
    torch.manual_seed(spec["seed"] + 1)
    before = torch.get_rng_state()
    outs, decisions = [], []
    with torch.no_grad():
        for _ in range(2):
            outs.append(gated(x.clone()).detach())
            last = gated.last_gate
            decisions.append(last.detach().double() if isinstance(last, torch.Tensor) else torch.full((len(x),), -1.0))
    return {"out": outs, "gates": decisions, "rng_untouched": bool(torch.equal(before, torch.get_rng_state()))}


def gated_block_gradients(namespace: dict, spec: dict, x: torch.Tensor, weights: torch.Tensor) -> dict:
    """The student's GatedBlock around a learnable stand-in gate and a straight-through rule, in training mode.

    Returns the summed absolute gradient of the gate's and of the body's parameters from a loss on the block output
    (the straight-through path), and of the gate's parameters from a loss on `last_gate` alone (the path the
    target-rate loss takes); a path that does not reach a parameter gives 0.
    """
    block = make_block(spec["in"], spec["out"], spec["stride"], spec["seed"])
    gate = PooledLinearGate(spec["in"], spec["seed"])
    gated = namespace["GatedBlock"](block, gate, gate_fn=noisy_by_default_gate_fn, tau=1.0)
    gated.train()
    gate_params = [p for p in gate.parameters() if p.requires_grad]
    body_params = [p for p in block.residual.parameters() if p.requires_grad]

    def total(loss: Any, params: list) -> float:
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad or not params:
            return 0.0
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return float(sum(g.abs().sum() for g in grads if g is not None))

    torch.manual_seed(spec["seed"] + 2)
    out = gated(x.clone())
    output_loss = (out * weights).sum()
    through_output = {"gate": total(output_loss, gate_params), "body": 0.0}
    out = gated(x.clone())
    through_output["body"] = total((out * weights).sum(), body_params)
    torch.manual_seed(spec["seed"] + 3)
    gated(x.clone())
    last = gated.last_gate
    rate_loss = ((last - 0.2) ** 2).mean() if isinstance(last, torch.Tensor) else None
    return {
        "gate_from_output": through_output["gate"],
        "body_from_output": through_output["body"],
        "gate_from_rate": total(rate_loss, gate_params),
    }
