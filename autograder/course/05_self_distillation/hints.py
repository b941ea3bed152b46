"""Hints for 05_self_distillation (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "distillation_loss": [
        "Knowledge distillation: the student matches the teacher's softened distribution. Loss = "
        "T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over the batch; the teacher is a "
        "fixed target (no gradient).",
        "Work in log space for stability: log_softmax of both logits divided by T, with the teacher "
        "detached. KL(p || q) = sum_c p_c (log p_c - log q_c) per sample, then the mean over samples "
        "(not over classes), times T^2 so gradients keep their size as T changes. Validate shapes and T > 0.",
        "log_q = the log-softmax over dim 1 of the student's logits divided by T; log_p = the same for the "
        "teacher's logits, detached; kl = ____ (per sample: the sum over classes of p times the log-ratio of "
        "p to q, with p = log_p.exp()), shape (N,); return T squared times its batch mean. (With F.kl_div "
        "instead: it takes log q first and needs reduction='batchmean'.)",
    ],
    "self_distillation_loss": [
        "Be Your Own Teacher: every exit learns from the labels, and the shallow exits also learn from "
        "the deepest exit: sum_k (1 - alpha) CE_k + alpha * KD(exit k <- deepest) for the shallow k.",
        "Loop over the exits: add (1 - alpha) * cross_entropy for every exit; for every exit except the "
        "last, add alpha * distillation_loss(exit, deepest, T) (your function detaches the teacher). "
        "With features and hint_weight > 0, add hint_weight * MSE(f_k, f_deepest.detach()) for the shallow "
        "exits. Validate alpha in [0, 1], T > 0, the shapes.",
        "teacher = the deepest exit's logits; ce = the sum over all exits of the cross-entropy with y; kd = "
        "____ (the sum over the shallow exits only of your distillation_loss against the teacher at "
        "temperature T); weight ce and kd with 1 - alpha and alpha as in level 1. With features and "
        "hint_weight > 0, add hint_weight times the sum over the shallow exits' features of the mean squared "
        "distance to the deepest features, detached. alpha = 0 must give plain multi-exit training; alpha = 1 "
        "leaves only distillation on the shallow exits.",
    ],
    "train_exit_model": [
        "A comparison of objectives is only fair if every run starts from the same fresh, seeded model "
        "and data order, and if the checkpoint cache can tell runs apart.",
        "Seed first (cl.env.set_seed(seed)), build a *new* cl.models.EarlyExitResNet with the given arch "
        "and the data's classes and channels, make seeded loaders, and train with cl.training.fit using "
        "loss_fn. The config given to fit must include everything that changes the result (the "
        "objective's config, seed, arch, batch size, data) so two objectives never share a checkpoint.",
        "Order matters: the seeded loaders from cl.data.make_loaders; then cl.env.set_seed(seed) right before "
        "building a fresh cl.models.EarlyExitResNet (num_classes and in_channels from the splits, **arch), so "
        "the initial weights never depend on what ran before; run_config = ____ (the caller's config plus "
        "every setting that changes the result: seed, arch, batch size, dataset name); then train with "
        "cl.training.fit(model, the train loader, ..., loss_fn=loss_fn, val_loader=the val loader, "
        "augment=augment, config=run_config). Return (model, history).",
    ],
}
