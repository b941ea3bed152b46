"""Benchmark: train the small-size early-exit ResNet on the embedded data and report speed and accuracy.

Usage: python benchmarks/bench_training.py [--epochs 12] [--threads N] [--json OUT]
Prints epochs/s, wall time, per-exit test accuracy and per-exit MACs. Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
import torch.nn.functional as F

from course_lib import cost, data, env, models, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    env.set_seed(args.seed)
    splits = data.load_dataset("embedded")
    loaders = data.make_loaders(splits, batch_size=64, seed=args.seed)
    arch = models.default_arch("small")
    model = models.EarlyExitResNet(**arch)
    weights = (0.3, 0.3, 1.0)

    def loss_fn(exit_logits, y):
        return sum(w * F.cross_entropy(logits, y) for w, logits in zip(weights, exit_logits, strict=True))

    start = time.perf_counter()
    training.fit(
        model,
        loaders["train"],
        num_epochs=args.epochs,
        lr=0.05,
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        device="cpu",
        verbose=False,
    )
    seconds = time.perf_counter() - start
    test_logits, test_y = training.collect_logits(model, loaders["test"], "cpu")
    test_acc = (test_logits.argmax(-1) == test_y).float().mean(1).tolist()
    exit_costs = cost.exit_costs(model, splits.input_shape)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "torch": torch.__version__,
        "epochs": args.epochs,
        "train_seconds": round(seconds, 1),
        "epochs_per_second": round(args.epochs / seconds, 3),
        "test_accuracy_per_exit": [round(a, 4) for a in test_acc],
        "exit_macs": exit_costs,
        "exit_cost_fraction": [round(c / exit_costs[-1], 3) for c in exit_costs],
    }
    print("| metric | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
