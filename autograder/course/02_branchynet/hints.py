"""Hints for 02_branchynet (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py).

Written from the reference implementations before the notebook existed; keep the names in step
with the graded functions of solutions/02_branchynet.ipynb.
"""

HINTS = {
    "ExitHead": [
        "An exit head turns a stage's feature map into class logits, cheaply: a small convolution, "
        "normalisation, a nonlinearity, then a linear classifier on a coarse pooled grid, so the head still "
        "knows roughly *where* each feature fired (a global pool would throw that away).",
        "In __init__ build a 3x3 convolution from in_channels to hidden_channels with the stride and padding "
        "the docstring gives (no bias, it is followed by BatchNorm), a BatchNorm2d, an adaptive average pool "
        "to pool_size x pool_size, and a Linear layer whose input size is hidden_channels * pool_size**2. "
        "Reject a non-positive channel count or pool_size, and an input with the wrong number of channels, "
        "with a clear ValueError.",
        "forward, after checking h: conv, then BatchNorm, then ReLU (torch.nn.functional.relu); pool the "
        "result to (N, hidden, pool_size, pool_size); flatten it from dim 1 on (channel-major order) to (N, "
        "hidden * pool_size**2); return ____ (the last layer applied to that), shape (N, num_classes). The "
        "adaptive pool makes any input size work.",
    ],
    "BranchyResNet": [
        "BranchyNet adds a side exit after every stage but the last; the last exit is the backbone's own "
        "classifier. forward returns every exit's logits, shallow to deep.",
        "Build a *fresh* course_lib ResNet inside __init__ and keep its stem and stages; put one ExitHead "
        "per stage except the last (its width is the stage's output width) plus the backbone classifier "
        "in an nn.ModuleList called exits, so the parameters are registered.",
        "forward: check x, run the stem, then walk the stages and the exits side by side (zip): each stage "
        "updates the feature map, and ____ (what the exit paired with that stage adds to the list). Return "
        "the list, shallow to deep. Never reuse the trained baseline object here: the notebook copies its "
        "weights later.",
    ],
    "weighted_exit_loss": [
        "The joint BranchyNet objective is a weighted sum of one cross-entropy per exit.",
        "Check there is one weight per exit and that every exit's logits have N rows to match y; then "
        "add w_n * CE(logits_n, y) over the exits, CE averaged over the batch. Return a scalar tensor "
        "that still has gradients (no .item()).",
        "Start a running total at 0; walk exit_logits and weights together (zip), check each logits tensor is "
        "(N, C) with N = len(y), and add ____ (this exit's weight as a float times its batch-mean "
        "cross-entropy with y). Return the total, a scalar tensor. The homework's weights are 0.3 for the "
        "side exits and 1.0 for the final one.",
    ],
    "train_early_exit": [
        "Fine-tune the early-exit model starting from the trained baseline, without touching the baseline.",
        "Refuse a model that *is* the baseline or shares parameter storage with it (a copy of weights, "
        "not shared modules). Copy the baseline's stem, stages and classifier weights into the model with "
        "load_state_dict, then train the model with cl.training.fit and a loss that applies your weighted "
        "exit loss with the given weights.",
        "Three load_state_dict copies, one per part: the model's stem from the baseline's stem, its stages "
        "from the baseline's stages, and ____ (which of the model's exits plays the part of "
        "baseline.classifier?). Then history = cl.training.fit(model, train_loader, ..., loss_fn=<a function "
        "of (output, y) that calls your weighted exit loss with the given weights>, val_loader=..., "
        "config=config) so reruns reuse the checkpoint. Return (model, history).",
    ],
    "per_exit_accuracy": [
        "Measure every exit on the same data in evaluation mode; one accuracy per exit.",
        "Remember the model's mode, call eval(), loop over the loader without gradients, count correct "
        "argmax predictions per exit and the number of samples; restore the mode in a finally block.",
        "Inside try/finally and torch.no_grad(): for each batch, move X to the model's device, outputs = one "
        "logits tensor per exit; hits = ____ (per exit, how many argmax predictions equal y: compare on the "
        "CPU), stacked into one tensor and added to a running count; seen grows by len(y). Return one Python "
        "float per exit, count / seen.",
    ],
    "per_exit_costs": [
        "A sample leaving at exit k paid for the stem, stages 1..k *and every exit head 1..k* it passed.",
        "Measure each piece once at batch size 1 with cl.cost.module_macs on a zero input of the right "
        "shape, propagating the input through the static pieces (stem, then each stage), and keep a "
        "running total. input_shape is one image's (C, H, W).",
        "In eval mode without gradients, start from h = a zero batch of one image, torch.zeros(1, "
        "*input_shape) on the model's device. running = the MACs of the stem on h; then push h through the "
        "stem. For each (stage, head) pair: add the stage's MACs on the current h, ____ (move h on before "
        "measuring the head), add the head's MACs, and record int(running). The list is increasing; the last "
        "entry is more than the plain backbone because of the side heads.",
    ],
}
