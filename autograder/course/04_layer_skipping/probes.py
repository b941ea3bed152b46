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
