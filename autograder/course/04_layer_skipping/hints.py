"""Hints for 04_layer_skipping (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "st_gumbel_gate": [
        "A gate must make a hard 0/1 decision but still pass a gradient. Straight-through Gumbel-softmax: "
        "the forward pass uses the hard decision from noisy logits, the backward pass uses the gradient "
        "of the soft (softmax) version. At test time there is no noise: the gate is deterministic.",
        "Training: add Gumbel noise g = -log(-log(u)), u uniform (clamped away from 0 and 1), or the noise "
        "passed in; soft = softmax((logits + g) / tau); hard = one-hot of its argmax. Combine them so the "
        "value equals hard but the gradient is soft's. Eval: compare the two logits directly. Column 1 "
        "means 'open' (run the block). Draw u in float32, not in the logits' dtype: on a GPU the logits are "
        "float16 under mixed precision, where the clamp does nothing (1e-10 rounds to 0, 1 - 1e-7 to 1) and a "
        "draw of exactly 0 gives a NaN gate.",
        "u = torch.rand(logits.shape, device=logits.device).clamp(1e-10, 1 - 1e-7) is float32 whatever the "
        "logits' dtype. y = hard - soft.detach() + soft has the forward value of hard and the gradient of "
        "soft; return its column 1, shape (N,). In eval return (logits[:, 1] > logits[:, 0]) as floats.",
    ],
    "Gate": [
        "A ConvNet-AIG gate looks at the block's input summarised by global average pooling and outputs two "
        "logits (closed, open) per sample; a small MLP does that.",
        "Linear(C, hidden) -> BatchNorm1d(hidden) -> ReLU -> Linear(hidden, 2) on the pooled (N, C) "
        "vector; pooling over H and W makes it work for any spatial size. Initialise the last layer so "
        "that gates start open (a larger bias on the 'open' logit), so training starts from the full "
        "network.",
        "forward: pooled = x.mean(dim=(2, 3)); return fc2(relu(bn(fc1(pooled)))). In __init__, after "
        "creating fc2, re-initialise its weights with a normal of modest std (input-dependent but not "
        "extreme gate logits) and copy a bias like [small, larger] into it under torch.no_grad().",
    ],
    "GatedBlock": [
        "output = shortcut(x) + g * residual(x), then ReLU. In training g multiplies the residual (so the "
        "gradient reaches the gate); at test time a closed gate must really skip the residual computation "
        "for that sample.",
        "Compute g = gate_fn(gate(x), tau=..., training=self.training) and keep it in self.last_gate. "
        "Training: dense, broadcast g over (C, H, W). Eval: start from the shortcut, find the indices of "
        "samples whose gate is open, run the residual only on those rows and add the result back at the "
        "same rows, in the original order.",
        "Eval path: out = shortcut.clone(); idx = nonzero(g > 0.5).flatten(); if idx is not empty: "
        "out.index_add_(0, idx, residual(x.index_select(0, idx))); return relu(out).",
    ],
    "target_rate_loss": [
        "ConvNet-AIG's target-rate loss pushes each gated layer's execution rate (the fraction of the batch "
        "that runs it) towards a target t.",
        "gates is (N, L): average over the batch for each layer's rate, take the squared difference with "
        "the target (a number or one target per layer), average over layers, scale by lam. It must stay "
        "differentiable with respect to the gates. Validate shapes and that targets lie in [0, 1].",
        "rates = gates.mean(dim=0); return lam * ((t - rates) ** 2).mean(), with t turned into a tensor on "
        "the gates' device and dtype.",
    ],
    "PolicyNet": [
        "BlockDrop's policy network looks at the image once, cheaply, and outputs one keep-probability "
        "per residual block.",
        "A tiny CNN on a downsampled image (average pooling first), a fixed-size adaptive pool so any "
        "image size works, a Linear to num_blocks outputs and a sigmoid. Start with high "
        "keep-probabilities (positive bias) so the first rollouts use most blocks.",
        "features = AvgPool2d(2) -> Conv(in, width, 3) -> BN -> ReLU -> AdaptiveAvgPool2d(k) -> Flatten; "
        "head = Linear(width * k * k, num_blocks); forward returns sigmoid(head(features(x))), shape "
        "(N, num_blocks), also for N = 1 in eval mode.",
    ],
    "blockdrop_reward": [
        "BlockDrop rewards correct predictions that used few blocks and penalises wrong ones with a fixed "
        "-gamma, whatever they used.",
        "Per sample: the usage |u|_1 / K is the fraction of blocks kept; the reward is 1 - usage^2 if the "
        "prediction was correct, else -gamma. Validate shapes and gamma >= 0.",
        "usage = policy.float().sum(1) / K; return torch.where(correct.bool(), 1 - usage ** 2, -gamma "
        "broadcast to (N,)).",
    ],
    "reinforce_loss": [
        "REINFORCE with a self-critical baseline: increase the log-probability of sampled policies that "
        "did better than the greedy policy, decrease it for those that did worse.",
        "log pi(u) of a Bernoulli policy is sum_k [u_k log p_k + (1 - u_k) log(1 - p_k)] (clamp p away from "
        "0 and 1). The advantage R(sampled) - R(greedy) is a constant for the gradient: detach it. The "
        "loss is minus the batch mean of advantage * log pi.",
        "p = probs.clamp(eps, 1 - eps); log_pi = (u * log p + (1 - u) * log(1 - p)).sum(1); "
        "adv = (reward_sampled - reward_greedy).detach(); return -(adv * log_pi).mean().",
    ],
    "expected_gated_macs": [
        "A gated block costs its gate always and its body only for the samples whose gate is open.",
        "Mean MACs per sample = base (stem, classifier, ...) + every gate's cost + for each layer, the "
        "block's cost times the fraction of samples that executed it. Check one cost per gated layer.",
        "rates = gates.detach().double().mean(dim=0); return float(base + sum(gate_macs) + (rates * "
        "block_macs).sum()).",
    ],
}
