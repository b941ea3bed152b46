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
        "Training: draw u with torch.rand in float32 on the logits' device and clamp it to [1e-10, 1 - 1e-7]; "
        "the Gumbel noise is minus the log of minus the log of u (or the noise passed in). soft = the softmax "
        "of (logits + noise) / tau over dim 1; hard = the one-hot of soft's argmax (num_classes=2, soft's "
        "dtype). The straight-through gate is ____ (an expression in hard, soft and soft.detach() whose value "
        "is hard and whose gradient is soft's); return its column 1, shape (N,). Eval: whether the 'open' "
        "logit beats the 'closed' one, as floats in the logits' dtype.",
    ],
    "Gate": [
        "A ConvNet-AIG gate looks at the block's input summarised by global average pooling and outputs two "
        "logits (closed, open) per sample; a small MLP does that.",
        "Linear(C, hidden) -> BatchNorm1d(hidden) -> ReLU -> Linear(hidden, 2) on the pooled (N, C) "
        "vector; pooling over H and W makes it work for any spatial size. Initialise the last layer so "
        "that gates start open (a larger bias on the 'open' logit), so training starts from the full "
        "network.",
        "forward, after checking x: pool over H and W by averaging the last two axes, giving (N, C); then "
        "____ (the four layers of level 2, in that order, applied to the pooled vector); the result is (N, "
        "2). In __init__, after creating the last Linear, re-initialise its weights with a normal of modest "
        "std (input-dependent but not extreme gate logits) and copy a bias like [small, larger] into it under "
        "torch.no_grad().",
    ],
    "GatedBlock": [
        "output = shortcut(x) + g * residual(x), then ReLU. In training g multiplies the residual (so the "
        "gradient reaches the gate); at test time a closed gate must really skip the residual computation "
        "for that sample.",
        "Compute g = gate_fn(gate(x), tau=..., training=self.training) and keep it in self.last_gate. "
        "Training: dense, broadcast g over (C, H, W). Eval: start from the shortcut, find the indices of "
        "samples whose gate is open, run the residual only on those rows and add the result back at the "
        "same rows, in the original order.",
        "g comes from self.gate_fn as in level 2 and is stored in self.last_gate; take the block's shortcut "
        "of x once. Training: ReLU of shortcut + g reshaped to (N, 1, 1, 1) times the residual of x. Eval: "
        "out = a copy of the shortcut (Tensor.clone); idx = ____ (the positions of the open gates as a 1-D "
        "long tensor); if idx is not empty, put the residual of just those rows of x (Tensor.index_select) "
        "back into out at the same rows (Tensor.index_add_ along dim 0); return the ReLU of out.",
    ],
    "target_rate_loss": [
        "ConvNet-AIG's target-rate loss pushes each gated layer's execution rate (the fraction of the batch "
        "that runs it) towards a target t.",
        "gates is (N, L): average over the batch for each layer's rate, take the squared difference with "
        "the target (a number or one target per layer), average over layers, scale by lam. It must stay "
        "differentiable with respect to the gates. Validate shapes and that targets lie in [0, 1].",
        "t = the target as a tensor on the gates' device and dtype (torch.as_tensor); rates = ____ (each "
        "layer's execution rate: one reduction of the (N, L) gates); the loss is lam times the mean over "
        "layers of the squared gap between t and rates. t may be one number or one value per layer: "
        "broadcasting handles both.",
    ],
    "PolicyNet": [
        "BlockDrop's policy network looks at the image once, cheaply, and outputs one keep-probability "
        "per residual block.",
        "A tiny CNN on a downsampled image (average pooling first), a fixed-size adaptive pool so any "
        "image size works, a Linear to num_blocks outputs and a sigmoid. Start with high "
        "keep-probabilities (positive bias) so the first rollouts use most blocks.",
        "features = an nn.Sequential: AvgPool2d(2), a 3x3 convolution from in_channels to width (padding 1, "
        "no bias), BatchNorm2d, ReLU, AdaptiveAvgPool2d(k), Flatten; head = a Linear from the flattened size "
        "(width * k * k) to num_blocks, its bias filled with a positive value under torch.no_grad(). forward "
        "returns ____ (the keep-probabilities: squash the head's output of the features into (0, 1)), shape "
        "(N, num_blocks), also for N = 1 in eval mode.",
    ],
    "blockdrop_reward": [
        "BlockDrop rewards correct predictions that used few blocks and penalises wrong ones with a fixed "
        "-gamma, whatever they used.",
        "Per sample: the usage |u|_1 / K is the fraction of blocks kept; the reward is 1 - usage^2 if the "
        "prediction was correct, else -gamma. Validate shapes and gamma >= 0.",
        "usage = the fraction of blocks each sample kept, shape (N,) (policy is (N, K) of 0/1: a float sum "
        "over dim 1 divided by K); reward = ____ (one torch.where on correct.bool() choosing, per sample, "
        "between 1 minus usage squared and -gamma). Give -gamma the shape of usage (torch.full_like) so the "
        "result is (N,) floats.",
    ],
    "reinforce_loss": [
        "REINFORCE with a self-critical baseline: increase the log-probability of sampled policies that "
        "did better than the greedy policy, decrease it for those that did worse.",
        "log pi(u) of a Bernoulli policy is sum_k [u_k log p_k + (1 - u_k) log(1 - p_k)] (clamp p away from "
        "0 and 1). The advantage R(sampled) - R(greedy) is a constant for the gradient: detach it. The "
        "loss is minus the batch mean of advantage * log pi.",
        "p = probs clamped to [eps, 1 - eps] (eps about 1e-6) and u = sampled in p's dtype; log_pi = ____ "
        "(the Bernoulli log-likelihood of u under p, summed over the K blocks: shape (N,)); advantage = "
        "sampled minus greedy reward, detached; the loss is minus the batch mean of the advantage times "
        "log_pi.",
    ],
    "expected_gated_macs": [
        "A gated block costs its gate always and its body only for the samples whose gate is open.",
        "Mean MACs per sample = base (stem, classifier, ...) + every gate's cost + for each layer, the "
        "block's cost times the fraction of samples that executed it. Check one cost per gated layer.",
        "Turn block_macs and gate_macs into float64 tensors and check both have one entry per gated layer (L "
        "= gates.shape[1]). rates = ____ (each layer's execution rate, from detached float64 CPU gates); the "
        "answer is base_macs + the total gate cost + the rate-weighted total of the block costs, as a Python "
        "float.",
    ],
}
