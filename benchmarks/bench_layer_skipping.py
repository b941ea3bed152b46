"""Wall-clock of layer skipping on the CPU: ungated ResNet vs a ConvNet-AIG gated copy, masked vs really skipped.

Usage (from the repository root):

    python benchmarks/bench_layer_skipping.py [--target 0.4] [--repeats 7] [--threads 2] [--json OUT]

It builds the notebook-04 networks with the same configurations as solutions/04_layer_skipping.ipynb, so after the
notebook has run the trained weights load from the checkpoint cache (otherwise they are trained first, about a
minute at the small size). It then times eval-mode inference over the test split at batch 256 and over the first
images at batch 1, reporting the median of the repeats next to the expected-MAC saving (gates included), and prints
a markdown table. CPU timings on a shared machine are noisy: compare ratios, and repeat the run.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import course_lib as cl  # noqa: E402
from autograder import content  # noqa: E402

ref = content.load("04_layer_skipping", "reference")

LAM = 2.0


def build_models(target: float) -> tuple[torch.nn.Module, torch.nn.Module, cl.data.Splits, dict]:
    """The trained ungated baseline and the AIG model at `target`, as configured in the notebook."""
    splits = cl.data.load_dataset(cl.env.pick(small="embedded", full="cifar10"))
    arch = dict(cl.models.default_arch(), blocks_per_stage=cl.env.pick(small=(2, 2, 2), full=(3, 3, 3)))
    loaders = cl.data.make_loaders(splits, batch_size=cl.env.pick(small=64, full=128))
    augment = cl.env.pick(small="shift", full="shift_flip")
    base_config = {"name": "nb04_baseline", "dataset": splits.name, **arch, "seed": 0}
    cl.env.set_seed(0)
    baseline = cl.models.ResNet(splits.num_classes, splits.input_shape[0], **arch)
    cl.training.fit(
        baseline,
        loaders["train"],
        num_epochs=cl.env.pick(small=10, full=40),
        lr=cl.env.pick(small=0.05, full=0.1),
        val_loader=loaders["val"],
        augment=augment,
        config=base_config,
        desc="baseline",
    )

    def loss_fn(output, y):
        logits, gates = output
        return F.cross_entropy(logits, y) + ref.target_rate_loss(gates, target, LAM)

    cl.env.set_seed(0)
    gated = ref.GatedResNet(copy.deepcopy(baseline))
    config = {
        "name": f"nb04_aig_st_t{target}",
        "gate_init_std": 0.3,
        "init": base_config,
        "target": target,
        "lam": LAM,
        "gates": "st",
        "seed": 0,
    }
    cl.training.fit(
        gated,
        loaders["train"],
        num_epochs=cl.env.pick(small=5, full=20),
        lr=cl.env.pick(small=0.05, full=0.05),
        loss_fn=loss_fn,
        val_loader=loaders["val"],
        augment=augment,
        config=config,
        desc=f"AIG t={target}",
    )
    return baseline.eval().cpu(), gated.eval().cpu(), splits, arch


@torch.no_grad()
def masked_forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Every block body computed and multiplied by its 0/1 gate (what mask-based code does)."""
    h = model.stem(x)
    for gb in model.blocks:
        g = ref.st_gumbel_gate(gb.gate(h), training=False).view(-1, 1, 1, 1)
        h = F.relu(gb.block.shortcut(h) + g * gb.block.residual(h))
    return model.classifier(h)


def median_ms_per_image(fn, X: torch.Tensor, batch_size: int, repeats: int) -> float:
    """Median over repeats (after one warm-up pass) of milliseconds per image to run fn over X."""
    batches = list(torch.split(X, batch_size))
    times = []
    with torch.inference_mode():
        for r in range(repeats + 1):
            start = time.perf_counter()
            for xb in batches:
                fn(xb)
            if r:
                times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times) / len(X)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.4, help="target execution rate of the AIG model")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per setting (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--batch1-images", type=int, default=200, help="images timed at batch size 1")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1 or args.batch1_images < 1:
        parser.error("--repeats, --threads and --batch1-images must be positive")
    torch.set_num_threads(args.threads)

    baseline, gated, splits, arch = build_models(args.target)
    X_test = splits.X_test
    with torch.no_grad():
        _, gates = gated(X_test)
    # Shortcuts are paid by every sample (a skipped block still computes its projection), bodies only when run.
    parts = cl.cost.gated_block_costs(gated, splits.input_shape)
    full_macs = parts["always"] + sum(parts["residuals"])
    gate_macs = list(parts["gates"])
    gated_macs = ref.expected_gated_macs(gates, parts["residuals"], gate_macs, parts["always"])
    masked_macs = full_macs + sum(gate_macs)

    variants = {"ungated": baseline, "gated, masked": lambda x: masked_forward(gated, x), "gated, real skipping": gated}
    rows = []
    for batch_size, X in ((256, X_test), (1, X_test[: args.batch1_images])):
        base_ms = None
        for name, fn in variants.items():
            ms = median_ms_per_image(fn, X, batch_size, args.repeats)
            base_ms = ms if base_ms is None else base_ms
            macs = {"ungated": full_macs, "gated, masked": masked_macs}.get(name, gated_macs)
            rows.append(
                {
                    "batch_size": batch_size,
                    "network": name,
                    "ms_per_image": ms,
                    "speedup": base_ms / ms,
                    "macs_per_image": macs,
                    "mac_saving": 1 - macs / full_macs,
                }
            )

    print(
        f"\nLayer skipping on CPU ({platform.processor() or platform.machine()}, {args.threads} threads, "
        f"torch {torch.__version__}); AIG target {args.target}, test execution rates "
        f"{[round(float(r), 2) for r in gates.mean(0)]}; median of {args.repeats} repeats\n"
    )
    print("| batch | network | ms / image | speed-up | MACs / image | MAC saving |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['batch_size']} | {r['network']} | {r['ms_per_image']:.3f} | {r['speedup']:.2f}x | "
            f"{cl.cost.format_macs(r['macs_per_image'])} | {100 * r['mac_saving']:.1f}% |"
        )
    print("\nTimings on a shared CPU are noisy (10-20% between runs); the MAC saving is exact.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "target": args.target,
                    "threads": args.threads,
                    "repeats": args.repeats,
                    "arch": {k: list(v) if isinstance(v, tuple) else v for k, v in arch.items()},
                    "execution_rates": [float(r) for r in gates.mean(0)],
                    "full_macs": full_macs,
                    "rows": rows,
                },
                indent=2,
            )
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
