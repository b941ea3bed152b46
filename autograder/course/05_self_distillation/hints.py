"""Hints for 05_self_distillation (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "distillation_loss": [
        "Knowledge distillation: the student matches the teacher's softened distribution. Loss = "
        "T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over the batch; the teacher is a "
        "fixed target (no gradient).",
        "Work in log space for stability: log_softmax of both logits divided by T, with the teacher "
        "detached. KL(p || q) = sum_c p_c (log p_c - log q_c) per sample, then the mean over samples "
        "(not over classes), times T^2 so gradients keep their size as T changes. Validate shapes and T > 0.",
        "log_q = log_softmax(student / T, 1); log_p = log_softmax(teacher.detach() / T, 1); per sample "
        "(log_p.exp() * (log_p - log_q)).sum(1); return T * T * its mean. (F.kl_div expects log q first "
        "and needs reduction='batchmean' if you use it.)",
    ],
    "self_distillation_loss": [
        "Be Your Own Teacher: every exit learns from the labels, and the shallow exits also learn from "
        "the deepest exit: sum_k (1 - alpha) CE_k + alpha * KD(exit k <- deepest) for the shallow k.",
        "Loop over the exits: add (1 - alpha) * cross_entropy for every exit; for every exit except the "
        "last, add alpha * distillation_loss(exit, deepest, T) (your function detaches the teacher). "
        "With features and hint_weight > 0, add hint_weight * MSE(f_k, f_deepest.detach()) for the shallow "
        "exits. Validate alpha in [0, 1], T > 0, the shapes.",
        "loss = sum over k of (1 - alpha) * F.cross_entropy(z_k, y) + [k < K-1] * alpha * "
        "distillation_loss(z_k, exit_logits[-1], T) + optional hint terms. alpha = 0 must give plain "
        "multi-exit training; alpha = 1 leaves only distillation on the shallow exits.",
    ],
    "train_exit_model": [
        "A comparison of objectives is only fair if every run starts from the same fresh, seeded model "
        "and data order, and if the checkpoint cache can tell runs apart.",
        "Seed first (cl.env.set_seed(seed)), build a *new* cl.models.EarlyExitResNet with the given arch "
        "and the data's classes and channels, make seeded loaders, and train with cl.training.fit using "
        "loss_fn. The config given to fit must include everything that changes the result (the "
        "objective's config, seed, arch, batch size, data) so two objectives never share a checkpoint.",
        "run_config = dict(config, seed=seed, arch=arch, batch_size=batch_size, data=splits.name); "
        "history = cl.training.fit(model, loaders['train'], num_epochs=..., lr=..., loss_fn=loss_fn, "
        "val_loader=loaders['val'], config=run_config); return (model, history).",
    ],
}
