"""Known-wrong implementations for notebook 04; each must fail the hidden tests it names."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autograder import content
from autograder.suite import Mutant

ref = content.load("04_layer_skipping", "reference")


# ---------------------------------------------------------------- st_gumbel_gate


def _noise_like(logits, noise):
    if noise is None:
        u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
        noise = -torch.log(-torch.log(u))
    return noise


def gumbel_soft_forward(logits, tau=1.0, training=True, noise=None):
    if not training:
        return (logits[:, 1] > logits[:, 0]).to(logits.dtype)
    return torch.softmax((logits + _noise_like(logits, noise)) / tau, 1)[:, 1]


def gumbel_detached(logits, tau=1.0, training=True, noise=None):
    if not training:
        return (logits[:, 1] > logits[:, 0]).to(logits.dtype)
    z = logits + _noise_like(logits, noise)
    return (z[:, 1] > z[:, 0]).to(logits.dtype).detach()


def gumbel_ignores_tau(logits, tau=1.0, training=True, noise=None):
    return ref.st_gumbel_gate(logits, 1.0, training, noise)


def gumbel_noisy_eval(logits, tau=1.0, training=True, noise=None):
    return ref.st_gumbel_gate(logits, tau, True, noise).detach()


def gumbel_clamp_in_logits_dtype(logits, tau=1.0, training=True, noise=None):
    """The clamp (1e-10, 1 - 1e-7) applied in the logits' dtype: a no-op in float16, so u = 0 stays 0."""
    if training and noise is None:
        u = torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-7)
        noise = -torch.log(-torch.log(u))
    return ref.st_gumbel_gate(logits, tau, training, noise)


def gumbel_unclamped(logits, tau=1.0, training=True, noise=None):
    """No clamp at all (float32 draws): u = 0 gives -inf noise in any dtype."""
    if training and noise is None:
        noise = -torch.log(-torch.log(torch.rand(logits.shape, device=logits.device)))
    return ref.st_gumbel_gate(logits, tau, training, noise)


# ---------------------------------------------------------------- Gate


class GateBN1dOn4D(nn.Module):
    def __init__(self, in_channels, hidden=16):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv2d(in_channels, hidden, 1)
        self.bn = nn.BatchNorm1d(hidden)
        self.conv2 = nn.Conv2d(hidden, 2, 1)
        with torch.no_grad():
            self.conv2.bias.copy_(torch.tensor([0.1, 2.0]))

    def forward(self, x):
        return self.conv2(F.relu(self.bn(self.conv1(self.pool(x))))).flatten(1)


class GateMaxPool(ref.Gate):
    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x.amax(dim=(2, 3))))))


class GateDefaultInit(nn.Module):
    def __init__(self, in_channels, hidden=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(in_channels, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, x):
        return self.net(x)


# ---------------------------------------------------------------- GatedBlock


class BlockMaskedEval(ref.GatedBlock):
    """Multiplies by the mask in eval too: the body runs for closed gates."""

    def forward(self, x):
        g = self.gate_fn(self.gate(x), tau=self.tau, training=self.training)
        self.last_gate = g
        return F.relu(self.block.shortcut(x) + g.view(-1, 1, 1, 1) * self.block.residual(x))


class BlockForwardWhere(ref.GatedBlock):
    """Eval: residual.forward() on the whole batch (no hook sees it), kept only where the gate is open."""

    def forward(self, x):
        if self.training:
            return super().forward(x)
        g = self.gate_fn(self.gate(x), tau=self.tau, training=False)
        self.last_gate = g
        short = self.block.shortcut(x)
        body = self.block.residual.forward(x)
        return F.relu(torch.where((g > 0.5).view(-1, 1, 1, 1), short + body, short))


class BlockOutOfOrder(ref.GatedBlock):
    """Really skips, but stacks open samples first and closed ones after."""

    def forward(self, x):
        if self.training:
            return super().forward(x)
        g = self.gate_fn(self.gate(x), tau=self.tau, training=False)
        self.last_gate = g
        keep = g > 0.5
        short = self.block.shortcut(x)
        opened = short[keep] + self.block.residual(x[keep]) if keep.any() else short[keep]
        return F.relu(torch.cat([opened, short[~keep]]))


class BlockPerSampleLoop(ref.GatedBlock):
    """Runs the body once per open sample (skips, but with one call per sample)."""

    def forward(self, x):
        if self.training:
            return super().forward(x)
        g = self.gate_fn(self.gate(x), tau=self.tau, training=False)
        self.last_gate = g
        out = self.block.shortcut(x).clone()
        for i in range(x.shape[0]):
            out[i : i + 1] += self.block.residual(x[i : i + 1])  # runs even where the gate is closed
        return F.relu(out)


class BlockSparseTrain(ref.GatedBlock):
    """Ignores the soft gate value in training (uses the thresholded gate)."""

    def forward(self, x):
        g = self.gate_fn(self.gate(x), tau=self.tau, training=self.training)
        self.last_gate = g
        hard = (g > 0.5).to(x.dtype)
        return F.relu(self.block.shortcut(x) + hard.view(-1, 1, 1, 1) * self.block.residual(x))


class BlockNoShortcut(ref.GatedBlock):
    """Forgets the downsampling shortcut: identity shortcut for skipped samples."""

    def forward(self, x):
        g = self.gate_fn(self.gate(x), tau=self.tau, training=self.training)
        self.last_gate = g
        short = self.block.shortcut(x)
        if self.training:
            return F.relu(short + g.view(-1, 1, 1, 1) * self.block.residual(x))
        out = torch.zeros_like(short)
        idx = torch.nonzero(g > 0.5).flatten()
        out.index_copy_(0, idx, short[idx] + self.block.residual(x[idx]))
        return F.relu(out)


class BlockNoTrainingFlag(ref.GatedBlock):
    """Calls the gate function without training=...: st_gumbel_gate's default (True) keeps sampling in eval."""

    def forward(self, x):
        g = self.gate_fn(self.gate(x), tau=self.tau)
        self.last_gate = g
        shortcut = self.block.shortcut(x)
        if self.training:
            return F.relu(shortcut + g.view(-1, 1, 1, 1) * self.block.residual(x))
        out = shortcut.clone()
        idx = torch.nonzero(g > 0.5).flatten()
        if idx.numel() > 0:
            out.index_add_(0, idx, self.block.residual(x.index_select(0, idx)))
        return F.relu(out)


class BlockDetachedMask(ref.GatedBlock):
    """Multiplies the residual by a detached copy of the decision: the same forward, no gradient to the gate."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        g = self.gate_fn(self.gate(x), tau=self.tau, training=True)
        self.last_gate = g
        return F.relu(self.block.shortcut(x) + g.detach().view(-1, 1, 1, 1) * self.block.residual(x))


class BlockDetachedLastGate(ref.GatedBlock):
    """Stores detached decisions: the target-rate loss cannot reach the gates."""

    def forward(self, x):
        out = super().forward(x)
        self.last_gate = self.last_gate.detach()
        return out


# ---------------------------------------------------------------- target_rate_loss


def target_wrong_axis(gates, target, lam):
    rates = gates.mean(dim=1, keepdim=True)
    return lam * ((target - rates) ** 2).mean()


def target_no_square(gates, target, lam):
    t = torch.as_tensor(target, dtype=gates.dtype)
    return lam * (t - gates.mean(0)).mean()


def target_negated(gates, target, lam):
    return -ref.target_rate_loss(gates, target, lam)


def target_detached(gates, target, lam):
    return ref.target_rate_loss(gates.detach(), target, lam)


def target_scalar_only(gates, target, lam):
    t = float(torch.as_tensor(target).double().mean())
    return ref.target_rate_loss(gates, t, lam)


# ---------------------------------------------------------------- PolicyNet


class PolicyNoSigmoid(ref.PolicyNet):
    def forward(self, x):
        return self.head(self.features(x))


class PolicyPerStage(ref.PolicyNet):
    def __init__(self, in_channels, num_blocks, width=8):
        super().__init__(in_channels, 3, width)


class PolicyFixedSize(nn.Module):
    """Flattens a fixed 14x14 map: breaks on images of another size."""

    def __init__(self, in_channels, num_blocks, width=8):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.fc = nn.Linear(width * 14 * 14, num_blocks)

    def forward(self, x):
        return torch.sigmoid(self.fc(F.relu(self.conv(F.avg_pool2d(x, 2))).flatten(1)))


class PolicyDropoutInEval(ref.PolicyNet):
    def forward(self, x):
        return torch.sigmoid(F.dropout(self.head(self.features(x)), 0.5, training=True))


# ---------------------------------------------------------------- blockdrop_reward


def reward_linear(policy, correct, gamma):
    usage = policy.float().mean(1)
    return torch.where(correct.bool(), 1 - usage, torch.full_like(usage, -gamma))


def reward_positive_penalty(policy, correct, gamma):
    usage = policy.float().mean(1)
    return torch.where(correct.bool(), 1 - usage**2, torch.full_like(usage, float(gamma)))


def reward_no_penalty(policy, correct, gamma):
    usage = policy.float().mean(1)
    return torch.where(correct.bool(), 1 - usage**2, torch.zeros_like(usage))


def reward_wrong_k(policy, correct, gamma):
    usage = policy.float().sum(1) / policy.shape[0]
    return torch.where(correct.bool(), 1 - usage**2, torch.full_like(usage, -gamma))


# ---------------------------------------------------------------- reinforce_loss


def reinforce_flipped_advantage(probs, sampled, reward_sampled, reward_greedy):
    return ref.reinforce_loss(probs, sampled, reward_greedy, reward_sampled)


def reinforce_no_baseline(probs, sampled, reward_sampled, reward_greedy):
    return ref.reinforce_loss(probs, sampled, reward_sampled, torch.zeros_like(reward_greedy))


def reinforce_baseline_attached(probs, sampled, reward_sampled, reward_greedy):
    p = probs.clamp(1e-6, 1 - 1e-6)
    log_pi = (sampled * p.log() + (1 - sampled) * (1 - p).log()).sum(1)
    return -((reward_sampled.detach() - reward_greedy) * log_pi).mean()


def reinforce_reward_attached(probs, sampled, reward_sampled, reward_greedy):
    p = probs.clamp(1e-6, 1 - 1e-6)
    log_pi = (sampled * p.log() + (1 - sampled) * (1 - p).log()).sum(1)
    return -((reward_sampled - reward_greedy) * log_pi).mean()


def reinforce_keep_only_logprob(probs, sampled, reward_sampled, reward_greedy):
    p = probs.clamp(1e-6, 1 - 1e-6)
    log_pi = (sampled * p.log()).sum(1)
    return -((reward_sampled - reward_greedy).detach() * log_pi).mean()


def reinforce_wide_clamp(probs, sampled, reward_sampled, reward_greedy):
    p = probs.clamp(0.01, 0.99)
    log_pi = (sampled * p.log() + (1 - sampled) * (1 - p).log()).sum(1)
    return -((reward_sampled - reward_greedy).detach() * log_pi).mean()


def reinforce_log_of_product(probs, sampled, reward_sampled, reward_greedy):
    p = probs.clamp(1e-6, 1 - 1e-6)
    joint = torch.where(sampled > 0.5, p, 1 - p).prod(dim=1)  # the joint probability, then its log: underflows
    return -((reward_sampled - reward_greedy).detach() * joint.log()).mean()


# ---------------------------------------------------------------- expected_gated_macs


def macs_no_gate(gates, block_macs, gate_macs, base_macs):
    return ref.expected_gated_macs(gates, block_macs, [0.0] * len(gate_macs), base_macs)


def macs_gate_only_when_open(gates, block_macs, gate_macs, base_macs):
    rates = gates.double().mean(0)
    cost = torch.as_tensor(block_macs, dtype=torch.float64) + torch.as_tensor(gate_macs, dtype=torch.float64)
    return float(base_macs + (rates * cost).sum())


def macs_wrong_axis(gates, block_macs, gate_macs, base_macs):
    rates = gates.double().mean(1)[: gates.shape[1]]
    if rates.shape[0] < gates.shape[1]:
        rates = torch.cat([rates, rates.new_zeros(gates.shape[1] - rates.shape[0])])
    return float(base_macs + sum(gate_macs) + (rates * torch.as_tensor(block_macs, dtype=torch.float64)).sum())


MUTANTS = [
    Mutant(
        "gate returns soft probabilities in training",
        targets=("gumbel_forward_is_hard",),
        overrides={"st_gumbel_gate": gumbel_soft_forward},
    ),
    Mutant(
        "hard gate with no straight-through gradient",
        targets=("gumbel_straight_through_gradient",),
        overrides={"st_gumbel_gate": gumbel_detached},
    ),
    Mutant(
        "temperature ignored",
        targets=("gumbel_straight_through_gradient",),
        overrides={"st_gumbel_gate": gumbel_ignores_tau},
    ),
    Mutant(
        "Gumbel noise sampled in eval mode",
        targets=("gumbel_eval_is_deterministic",),
        overrides={"st_gumbel_gate": gumbel_noisy_eval},
    ),
    Mutant(
        "uniform noise clamped in the logits' dtype (a no-op in float16)",
        targets=("gumbel_finite_in_float16",),
        overrides={"st_gumbel_gate": gumbel_clamp_in_logits_dtype},
    ),
    Mutant(
        "uniform noise not clamped away from 0",
        targets=("gumbel_finite_in_float16",),
        overrides={"st_gumbel_gate": gumbel_unclamped},
    ),
    Mutant(
        "BatchNorm1d applied to the 4-D gate tensor",
        targets=("gate_shapes_any_batch",),
        overrides={"Gate": GateBN1dOn4D},
    ),
    Mutant(
        "gate pools with max instead of average",
        targets=("gate_uses_global_average_pool",),
        overrides={"Gate": GateMaxPool},
    ),
    Mutant(
        "gate bias not initialised towards open", targets=("gate_starts_open",), overrides={"Gate": GateDefaultInit}
    ),
    Mutant(
        "masked compute presented as skipping",
        targets=("gated_block_really_skips",),
        overrides={"GatedBlock": BlockMaskedEval},
    ),
    Mutant(
        "body run for every sample with forward(), closed ones dropped by torch.where",
        targets=("gated_block_really_skips",),
        overrides={"GatedBlock": BlockForwardWhere},
    ),
    Mutant(
        "body run per sample for every sample",
        targets=("gated_block_really_skips", "gated_block_eval_output_in_order"),
        overrides={"GatedBlock": BlockPerSampleLoop},
    ),
    Mutant(
        "outputs out of order after skipping",
        targets=("gated_block_eval_output_in_order",),
        overrides={"GatedBlock": BlockOutOfOrder},
    ),
    Mutant(
        "skipped samples lose the shortcut",
        targets=("gated_block_eval_output_in_order",),
        overrides={"GatedBlock": BlockNoShortcut},
    ),
    Mutant(
        "training ignores the soft gate value",
        targets=("gated_block_train_dense_mask",),
        overrides={"GatedBlock": BlockSparseTrain},
    ),
    Mutant(
        "GatedBlock does not pass its mode to the gate function (noisy decisions in eval)",
        targets=("gated_block_eval_deterministic_by_default",),
        overrides={"GatedBlock": BlockNoTrainingFlag},
    ),
    Mutant(
        "residual multiplied by a detached gate decision",
        targets=("gated_block_gradients_reach_gate",),
        overrides={"GatedBlock": BlockDetachedMask},
    ),
    Mutant(
        "last_gate stored detached",
        targets=("gated_block_gradients_reach_gate",),
        overrides={"GatedBlock": BlockDetachedLastGate},
    ),
    Mutant(
        "target loss averaged over the wrong axis",
        targets=("target_loss_value",),
        overrides={"target_rate_loss": target_wrong_axis},
    ),
    Mutant(
        "target loss not squared (sign matters)",
        targets=("target_loss_value", "target_loss_per_layer_targets"),
        overrides={"target_rate_loss": target_no_square},
    ),
    Mutant(
        "target loss with the wrong sign",
        targets=("target_loss_value", "target_loss_gradient"),
        overrides={"target_rate_loss": target_negated},
    ),
    Mutant(
        "target loss detached from the gates",
        targets=("target_loss_gradient",),
        overrides={"target_rate_loss": target_detached},
    ),
    Mutant(
        "per-layer targets collapsed to their mean",
        targets=("target_loss_per_layer_targets",),
        overrides={"target_rate_loss": target_scalar_only},
    ),
    Mutant(
        "policy outputs logits, not probabilities",
        targets=("policy_one_probability_per_block",),
        overrides={"PolicyNet": PolicyNoSigmoid},
    ),
    Mutant(
        "one probability per stage instead of per block",
        targets=("policy_one_probability_per_block",),
        overrides={"PolicyNet": PolicyPerStage},
    ),
    Mutant(
        "policy tied to one image size",
        targets=("policy_any_image_size_batch_one",),
        overrides={"PolicyNet": PolicyFixedSize},
    ),
    Mutant(
        "random policy in eval mode",
        targets=("policy_any_image_size_batch_one",),
        overrides={"PolicyNet": PolicyDropoutInEval},
    ),
    Mutant(
        "reward linear in the blocks used",
        targets=("reward_correct_samples",),
        overrides={"blockdrop_reward": reward_linear},
    ),
    Mutant(
        "reward normalised by the batch size",
        targets=("reward_correct_samples",),
        overrides={"blockdrop_reward": reward_wrong_k},
    ),
    Mutant(
        "penalty with the wrong sign",
        targets=("reward_wrong_samples_penalised",),
        overrides={"blockdrop_reward": reward_positive_penalty},
    ),
    Mutant(
        "missing penalty for wrong predictions",
        targets=("reward_wrong_samples_penalised",),
        overrides={"blockdrop_reward": reward_no_penalty},
    ),
    Mutant(
        "advantage with flipped sign",
        targets=("reinforce_loss_value", "reinforce_policy_gradient"),
        overrides={"reinforce_loss": reinforce_flipped_advantage},
    ),
    Mutant(
        "no self-critical baseline",
        targets=("reinforce_loss_value",),
        overrides={"reinforce_loss": reinforce_no_baseline},
    ),
    Mutant(
        "log-probability ignores dropped blocks",
        targets=("reinforce_loss_value", "reinforce_policy_gradient"),
        overrides={"reinforce_loss": reinforce_keep_only_logprob},
    ),
    Mutant(
        "baseline not detached",
        targets=("reinforce_rewards_detached",),
        overrides={"reinforce_loss": reinforce_baseline_attached},
    ),
    Mutant(
        "reward not detached",
        targets=("reinforce_rewards_detached",),
        overrides={"reinforce_loss": reinforce_reward_attached},
    ),
    Mutant(
        "probabilities clamped to [0.01, 0.99]",
        targets=("reinforce_many_saturated_blocks",),
        overrides={"reinforce_loss": reinforce_wide_clamp},
    ),
    Mutant(
        "log of the product of the block probabilities",
        targets=("reinforce_many_saturated_blocks",),
        overrides={"reinforce_loss": reinforce_log_of_product},
    ),
    Mutant(
        "gate cost omitted",
        targets=("macs_match_reference", "macs_gate_cost_always_paid"),
        overrides={"expected_gated_macs": macs_no_gate},
    ),
    Mutant(
        "gate cost charged only when the gate opens",
        targets=("macs_match_reference", "macs_gate_cost_always_paid"),
        overrides={"expected_gated_macs": macs_gate_only_when_open},
    ),
    Mutant(
        "execution rate averaged over the wrong axis",
        targets=("macs_match_reference",),
        overrides={"expected_gated_macs": macs_wrong_axis},
    ),
]
