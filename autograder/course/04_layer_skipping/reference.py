"""Reference implementations of the graded functions of notebook 04 (layer skipping).

Same names and signatures as the solution notebook. Kept out of course_lib on purpose: these are
the answers of the graded exercises.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "st_gumbel_gate",
    "Gate",
    "GatedBlock",
    "target_rate_loss",
    "PolicyNet",
    "blockdrop_reward",
    "reinforce_loss",
    "expected_gated_macs",
    "GatedResNet",
]


def _check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, 2) (logits of [closed, open]), got {shape}.")


def st_gumbel_gate(logits: torch.Tensor, tau: float = 1.0, training: bool = True,
                   noise: torch.Tensor | None = None) -> torch.Tensor:
    """Straight-through Gumbel-softmax gate: (N, 2) logits -> (N,) hard 0/1 decisions (1 = run the block).

    Training: hard one-hot of argmax(logits + Gumbel noise) forward, gradient of
    softmax((logits + noise) / tau) backward; the noise is drawn in float32 whatever the logits' dtype.
    Eval: argmax of the logits, no noise.
    """
    _check_logits(logits)
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}.")
    if not training:
        return (logits[:, 1] > logits[:, 0]).to(logits.dtype)
    if noise is None:
        # float32 at least: in float16 (autocast on a GPU) the bounds round to 0 and 1 and log(0) gives NaN gates
        uniform = torch.rand(logits.shape, device=logits.device, dtype=torch.float32).clamp_(1e-10, 1.0 - 1e-7)
        noise = -torch.log(-torch.log(uniform))
    elif noise.shape != logits.shape:
        raise ValueError(f"noise must have the shape of logits {tuple(logits.shape)}, got {tuple(noise.shape)}.")
    soft = torch.softmax((logits + noise) / tau, dim=1)
    hard = F.one_hot(soft.argmax(dim=1), 2).to(soft.dtype)
    return (hard - soft.detach() + soft)[:, 1]


class Gate(nn.Module):
    """AIG gate: global average pool -> Linear(C, hidden) -> BatchNorm1d -> ReLU -> Linear(hidden, 2)."""

    def __init__(self, in_channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, 2)
        nn.init.normal_(self.fc2.weight, std=0.3)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.tensor([0.1, 2.0]))
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Gate expects x of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}.")
        pooled = x.mean(dim=(2, 3))
        return self.fc2(F.relu(self.bn(self.fc1(pooled))))


class GatedBlock(nn.Module):
    """shortcut(x) + g * residual(x), then ReLU; eval mode runs the residual only where g = 1."""

    def __init__(self, block: nn.Module, gate: nn.Module, gate_fn: Callable | None = None,
                 tau: float = 1.0) -> None:
        super().__init__()
        self.block, self.gate, self.tau = block, gate, tau
        self.gate_fn = gate_fn if gate_fn is not None else st_gumbel_gate
        self.last_gate: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"GatedBlock expects x of shape (N, C, H, W), got {tuple(x.shape)}.")
        g = self.gate_fn(self.gate(x), tau=self.tau, training=self.training)
        self.last_gate = g
        shortcut = self.block.shortcut(x)
        if self.training:
            return F.relu(shortcut + g.view(-1, 1, 1, 1) * self.block.residual(x))
        out = shortcut.clone()
        idx = torch.nonzero(g > 0.5).flatten()
        if idx.numel() > 0:
            out.index_add_(0, idx, self.block.residual(x.index_select(0, idx)))
        return F.relu(out)


def _check_gates(gates: torch.Tensor, name: str = "gates") -> None:
    if not isinstance(gates, torch.Tensor) or gates.ndim != 2:
        shape = tuple(gates.shape) if isinstance(gates, torch.Tensor) else type(gates).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, L) (samples x gated layers), got {shape}.")


def target_rate_loss(gates: torch.Tensor, target: float | torch.Tensor, lam: float) -> torch.Tensor:
    """lam * mean over layers of (t_l - batch execution rate of layer l)^2; gates (N, L) -> scalar."""
    _check_gates(gates)
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}.")
    t = torch.as_tensor(target, dtype=gates.dtype, device=gates.device)
    if t.ndim not in (0, 1) or (t.ndim == 1 and t.shape[0] != gates.shape[1]):
        raise ValueError(f"target must be a number or a tensor of shape ({gates.shape[1]},), got {tuple(t.shape)}.")
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError("target execution rates must lie in [0, 1].")
    rates = gates.mean(dim=0)
    return lam * ((t - rates) ** 2).mean()


class PolicyNet(nn.Module):
    """BlockDrop policy: a small CNN on the half-resolution image -> (N, num_blocks) keep-probabilities."""

    def __init__(self, in_channels: int, num_blocks: int, width: int = 8) -> None:
        super().__init__()
        self.in_channels, self.num_blocks = in_channels, num_blocks
        self.features = nn.Sequential(
            nn.AvgPool2d(2), nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Linear(16 * width, num_blocks)
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.fill_(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PolicyNet expects x of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}.")
        return torch.sigmoid(self.head(self.features(x)))


def blockdrop_reward(policy: torch.Tensor, correct: torch.Tensor, gamma: float) -> torch.Tensor:
    """BlockDrop reward per sample: 1 - (|u|_1 / K)^2 when correct, -gamma otherwise; (N, K), (N,) -> (N,)."""
    _check_gates(policy, "policy")
    if not isinstance(correct, torch.Tensor) or correct.shape != (policy.shape[0],):
        raise ValueError(f"correct must be a tensor of shape ({policy.shape[0]},).")
    if gamma < 0:
        raise ValueError(f"gamma is the size of the penalty and must be >= 0, got {gamma}.")
    usage = policy.float().sum(dim=1) / policy.shape[1]
    return torch.where(correct.bool(), 1.0 - usage ** 2, torch.full_like(usage, -float(gamma)))


def reinforce_loss(probs: torch.Tensor, sampled: torch.Tensor, reward_sampled: torch.Tensor,
                   reward_greedy: torch.Tensor) -> torch.Tensor:
    """Self-critical REINFORCE: -mean((R(u) - R(greedy)).detach() * log pi(u)); probs, sampled (N, K)."""
    _check_gates(probs, "probs")
    if sampled.shape != probs.shape:
        raise ValueError(f"sampled must have the shape of probs {tuple(probs.shape)}, got {tuple(sampled.shape)}.")
    n = probs.shape[0]
    for name, r in (("reward_sampled", reward_sampled), ("reward_greedy", reward_greedy)):
        if r.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {tuple(r.shape)}.")
    p = probs.clamp(1e-6, 1 - 1e-6)
    u = sampled.to(p.dtype)
    log_pi = (u * torch.log(p) + (1 - u) * torch.log(1 - p)).sum(dim=1)
    advantage = (reward_sampled - reward_greedy).detach()
    return -(advantage * log_pi).mean()


def expected_gated_macs(gates: torch.Tensor, block_macs: Sequence[float], gate_macs: Sequence[float],
                        base_macs: float) -> float:
    """Mean MACs per sample: base + sum_l (gate_l always + block_l when its gate is open); gates (N, L)."""
    _check_gates(gates)
    blocks = torch.as_tensor(block_macs, dtype=torch.float64)
    gate_cost = torch.as_tensor(gate_macs, dtype=torch.float64)
    L = gates.shape[1]
    if blocks.shape != (L,) or gate_cost.shape != (L,):
        raise ValueError(f"block_macs and gate_macs need one entry per gated layer ({L}), got "
                         f"{tuple(blocks.shape)} and {tuple(gate_cost.shape)}.")
    rates = gates.detach().double().mean(dim=0)
    return float(base_macs + gate_cost.sum() + (rates * blocks).sum())


class GatedResNet(nn.Module):
    """A course_lib ResNet whose every residual block is a GatedBlock; forward -> (logits, gates (N, L))."""

    def __init__(self, base: nn.Module, hidden: int = 16, gate_fn: Callable | None = None,
                 tau: float = 1.0) -> None:
        super().__init__()
        self.in_channels = base.in_channels
        self.stem, self.classifier = base.stem, base.classifier
        self.blocks = nn.ModuleList(GatedBlock(b, Gate(b.in_channels, hidden), gate_fn, tau) for b in base.blocks())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.stem(x)
        gates = []
        for block in self.blocks:
            h = block(h)
            gates.append(block.last_gate)
        return self.classifier(h), torch.stack(gates, dim=1)
