"""GENERATED from solutions/04_layer_skipping.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""

import torch
import torch.nn.functional as F
from torch import nn

import course_lib as cl


# cell 04-09
def st_gumbel_gate(
    logits: torch.Tensor, tau: float = 1.0, training: bool = True, noise: torch.Tensor | None = None
) -> torch.Tensor:
    """Straight-through Gumbel-softmax gate.

    Args:
        logits: (N, 2) gate logits, column 0 = "skip", column 1 = "run the block".
        tau: temperature (> 0) of the soft sample used for the backward pass.
        training: True = sample with Gumbel noise (straight-through); False = deterministic argmax, no noise.
        noise: optional (N, 2) Gumbel noise to use instead of sampling (training mode only; ignored in eval).
    Returns:
        (N,) float tensor of 0/1 decisions (1 = run); in training its gradient is that of the soft sample.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(
            f"logits must have shape (N, 2) ([skip, run] logits per sample), got {shape}"
        )
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    if not training:
        return (logits[:, 1] > logits[:, 0]).to(logits.dtype)
    if noise is None:
        # float32 whatever the logits' dtype: in float16 the clamp bounds round to 0 and 1, and log(0) = -inf
        uniform = torch.rand(logits.shape, device=logits.device, dtype=torch.float32).clamp(
            1e-10, 1.0 - 1e-7
        )
        noise = -torch.log(-torch.log(uniform))
    elif noise.shape != logits.shape:
        raise ValueError(
            f"noise must have the shape of logits {tuple(logits.shape)}, got {tuple(noise.shape)}"
        )
    soft = torch.softmax((logits + noise) / tau, dim=1)
    hard = F.one_hot(soft.argmax(dim=1), num_classes=2).to(soft.dtype)
    return (hard - soft.detach() + soft)[:, 1]


# cell 04-12
class Gate(nn.Module):
    """ConvNet-AIG gate: global average pool -> Linear(C, hidden) -> BatchNorm1d -> ReLU -> Linear(hidden, 2).

    forward(x): x (N, C, H, W) -> logits (N, 2), column 0 = skip, column 1 = run.
    """

    def __init__(self, in_channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.fc1 = nn.Linear(in_channels, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, 2)
        nn.init.normal_(self.fc2.weight, std=0.3)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.tensor([0.1, 2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Gate expects x of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        pooled = x.mean(dim=(2, 3))
        return self.fc2(F.relu(self.bn(self.fc1(pooled))))


# cell 04-15
class GatedBlock(nn.Module):
    """Gated residual block: relu(shortcut(x) + g * residual(x)) with g from a gate on the block input.

    Args:
        block: a course_lib BasicBlock (uses block.shortcut and block.residual).
        gate: module mapping x (N, C, H, W) to logits (N, 2).
        gate_fn: decision rule gate_fn(logits, tau=..., training=...) -> (N,); None means st_gumbel_gate.
        tau: temperature passed to gate_fn.
    forward(x): (N, C_in, H, W) -> (N, C_out, H', W'); sets self.last_gate to the (N,) decisions.
    """

    def __init__(self, block: nn.Module, gate: nn.Module, gate_fn=None, tau: float = 1.0) -> None:
        super().__init__()
        self.block, self.gate, self.tau = block, gate, tau
        self.gate_fn = gate_fn if gate_fn is not None else st_gumbel_gate
        self.last_gate = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"GatedBlock expects x of shape (N, C, H, W), got {tuple(x.shape)}")
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


# cell 04-18
def target_rate_loss(gates: torch.Tensor, target, lam: float) -> torch.Tensor:
    """lam * mean over gated layers of (target_l - batch execution rate of layer l)^2.

    Args:
        gates: (N, L) gate decisions (0/1 forward, with gradient), N samples, L gated layers.
        target: a number in [0, 1] or a (L,) tensor of per-layer target rates.
        lam: weight of the loss (>= 0).
    Returns:
        scalar tensor.
    """
    if not isinstance(gates, torch.Tensor) or gates.ndim != 2:
        shape = tuple(gates.shape) if isinstance(gates, torch.Tensor) else type(gates).__name__
        raise ValueError(f"gates must have shape (N, L) (samples x gated layers), got {shape}")
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    t = torch.as_tensor(target, dtype=gates.dtype, device=gates.device)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != gates.shape[1]):
        raise ValueError(
            f"target must be a number or have shape ({gates.shape[1]},), got {tuple(t.shape)}"
        )
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError("target rates must lie in [0, 1]")
    rates = gates.mean(dim=0)
    return lam * ((t - rates) ** 2).mean()


# cell 04-21
class GatedResNet(nn.Module):
    """A course_lib ResNet whose residual blocks are GatedBlocks; forward(x) -> (logits, gates (N, L))."""

    def __init__(self, base: nn.Module, hidden: int = 16, gate_fn=None, tau: float = 1.0) -> None:
        super().__init__()
        self.in_channels = base.in_channels
        self.stem, self.classifier = base.stem, base.classifier
        self.blocks = nn.ModuleList(
            GatedBlock(b, Gate(b.in_channels, hidden), gate_fn, tau) for b in base.blocks()
        )

    def forward(self, x: torch.Tensor):
        cl.models.check_input(x, self.in_channels, "GatedResNet")
        h = self.stem(x)
        gates = []
        for block in self.blocks:
            h = block(h)
            gates.append(block.last_gate)
        return self.classifier(h), torch.stack(gates, dim=1)


def aig_loss(target, lam: float):
    """Cross-entropy on the logits plus the target-rate loss on the gates."""

    def loss_fn(output, y):
        logits, gates = output
        return F.cross_entropy(logits, y) + target_rate_loss(gates, target, lam)

    return loss_fn


# cell 04-25
def expected_gated_macs(gates: torch.Tensor, block_macs, gate_macs, base_macs: float) -> float:
    """Mean MACs per sample of a gated forward, gates included.

    Args:
        gates: (N, L) 0/1 decisions of N samples for L gated blocks.
        block_macs: L MACs of each block body (batch 1).
        gate_macs: L MACs of each gate (batch 1), paid by every sample.
        base_macs: MACs paid by every sample outside the gated blocks (stem, classifier, policy network).
    Returns:
        float, the expected MACs per sample.
    """
    if not isinstance(gates, torch.Tensor) or gates.ndim != 2:
        shape = tuple(gates.shape) if isinstance(gates, torch.Tensor) else type(gates).__name__
        raise ValueError(f"gates must have shape (N, L), got {shape}")
    blocks = torch.as_tensor(block_macs, dtype=torch.float64)
    gate_cost = torch.as_tensor(gate_macs, dtype=torch.float64)
    L = gates.shape[1]
    if blocks.shape != (L,) or gate_cost.shape != (L,):
        raise ValueError(
            f"block_macs and gate_macs need one entry per gated block ({L}), got "
            f"{tuple(blocks.shape)} and {tuple(gate_cost.shape)}"
        )
    rates = gates.detach().double().cpu().mean(dim=0)
    return float(base_macs + gate_cost.sum() + (rates * blocks).sum())


# cell 04-33
def soft_gate(logits: torch.Tensor, tau: float = 1.0, training: bool = True) -> torch.Tensor:
    """Soft gate for the experiment: the open probability in training, the hard argmax in eval."""
    if training:
        return torch.softmax(logits / tau, dim=1)[:, 1]
    return st_gumbel_gate(logits, tau, training=False)


# cell 04-36
@torch.no_grad()
def masked_forward(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Eval forward that computes every block body and multiplies it by the hard gate (no saving)."""
    h = model.stem(X)
    for gb in model.blocks:
        g = st_gumbel_gate(gb.gate(h), training=False).view(-1, 1, 1, 1)
        h = F.relu(gb.block.shortcut(h) + g * gb.block.residual(h))
    return model.classifier(h)


# cell 04-40
class PolicyNet(nn.Module):
    """BlockDrop policy: images (N, C, H, W) -> keep-probabilities (N, num_blocks) in (0, 1)."""

    def __init__(self, in_channels: int, num_blocks: int, width: int = 8) -> None:
        super().__init__()
        self.in_channels, self.num_blocks = in_channels, num_blocks
        self.features = nn.Sequential(
            nn.AvgPool2d(2),
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.head = nn.Linear(16 * width, num_blocks)
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.fill_(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PolicyNet expects x of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        return torch.sigmoid(self.head(self.features(x)))


# cell 04-43
def blockdrop_reward(policy: torch.Tensor, correct: torch.Tensor, gamma: float) -> torch.Tensor:
    """BlockDrop reward per sample.

    Args:
        policy: (N, K) 0/1 keep decisions.
        correct: (N,) bool, whether the prediction made with that policy was right.
        gamma: penalty size (>= 0); a wrong prediction is rewarded -gamma.
    Returns:
        (N,) float tensor of rewards.
    """
    if not isinstance(policy, torch.Tensor) or policy.ndim != 2:
        raise ValueError("policy must be a tensor of shape (N, K)")
    if not isinstance(correct, torch.Tensor) or correct.shape != (policy.shape[0],):
        raise ValueError(f"correct must be a tensor of shape ({policy.shape[0]},)")
    if gamma < 0:
        raise ValueError(f"gamma is the size of the penalty and must be >= 0, got {gamma}")
    usage = policy.float().sum(dim=1) / policy.shape[1]
    return torch.where(correct.bool(), 1.0 - usage**2, torch.full_like(usage, -float(gamma)))


# cell 04-46
def reinforce_loss(
    probs: torch.Tensor,
    sampled: torch.Tensor,
    reward_sampled: torch.Tensor,
    reward_greedy: torch.Tensor,
) -> torch.Tensor:
    """Self-critical REINFORCE loss of a Bernoulli policy.

    Args:
        probs: (N, K) keep-probabilities the policy was sampled from (with gradient).
        sampled: (N, K) 0/1 sampled policy.
        reward_sampled: (N,) reward of the sampled policy.
        reward_greedy: (N,) reward of the greedy policy (the baseline).
    Returns:
        scalar tensor: -mean((reward_sampled - reward_greedy) * log pi(sampled)), advantage detached.
    """
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2:
        raise ValueError("probs must be a tensor of shape (N, K)")
    if sampled.shape != probs.shape:
        raise ValueError(
            f"sampled must have the shape of probs {tuple(probs.shape)}, got {tuple(sampled.shape)}"
        )
    for name, r in (("reward_sampled", reward_sampled), ("reward_greedy", reward_greedy)):
        if r.shape != (probs.shape[0],):
            raise ValueError(f"{name} must have shape ({probs.shape[0]},), got {tuple(r.shape)}")
    p = probs.clamp(1e-6, 1 - 1e-6)
    u = sampled.to(p.dtype)
    log_pi = (u * torch.log(p) + (1 - u) * torch.log(1 - p)).sum(dim=1)
    advantage = (reward_sampled - reward_greedy).detach()
    return -(advantage * log_pi).mean()


# cell 04-49
def blockdrop_loss(gamma: float):
    """REINFORCE loss of a BlockDropAgent training output."""

    def loss_fn(output, y):
        logits_sampled, bounded, sampled, logits_greedy, greedy = output
        r_sampled = blockdrop_reward(sampled, logits_sampled.argmax(1) == y, gamma)
        r_greedy = blockdrop_reward(greedy, logits_greedy.argmax(1) == y, gamma)
        return reinforce_loss(bounded, sampled, r_sampled, r_greedy)

    return loss_fn
