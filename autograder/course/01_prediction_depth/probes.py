"""Probes for 01_prediction_depth: run inside the student's process, return plain data only."""

from __future__ import annotations

import torch


def extract_side_effects(
    namespace: dict, model: torch.nn.Module, X: torch.Tensor, start_in_train: bool, batch_size: int
) -> dict:
    """Call extract_representations on `model` and report its train/eval flag and state afterwards."""
    model.train(start_in_train)
    before = {name: value.detach().clone() for name, value in model.state_dict().items()}
    out = namespace["extract_representations"](model, X, batch_size=batch_size)
    after = model.state_dict()
    changed = sorted(name for name, value in before.items() if not torch.equal(value, after[name]))
    return {
        "training_after": bool(model.training),
        "submodules_training": sorted({bool(m.training) for m in model.modules()}),
        "state_changed": len(changed) > 0,
        "num_outputs": len(out) if isinstance(out, (list, tuple)) else -1,
    }
