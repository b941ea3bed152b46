"""Wall-clock of per-sample, compacted early exit versus the full network, beside the MAC ratio.

Loads notebook 03's cached checkpoint (same model, loss weights and training config; trains it if the cache is
missing), chooses the entropy threshold on the validation split for a 0.5-point accuracy budget (reference
implementations from autograder/course/03_early_exit/reference.py), and times the test split:

- batch 256 and batch 1 on the CPU (and on CUDA when available);
- full network = every stage and exit head for every sample; early exit = stage-by-stage with batch compaction;
- full and early exit timed alternately (median of several repeats after a warm-up), so drift hits both alike; speedup / MAC ratio is the figure of merit (target >= 0.75).

Usage: python benchmarks/bench_early_exit.py [--repeats 7] [--batch1-samples 300] [--threads N] [--json OUT]
Timings on a shared machine are noisy: read the medians, not single runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import course_lib as cl  # noqa: E402
from autograder import content  # noqa: E402

# Must match the given cells of solutions/03_early_exit.ipynb (tests/test_benchmarks.py checks it), or the checkpoint
# cache key differs and the benchmark trains its own copy.
EXIT_WEIGHTS = (0.3, 0.3, 1.0)
SMALL_ARCH = {"base_width": 24, "stem_stride": 2, "stage_strides": (1, 2, 2)}
NUM_EPOCHS = {"small": 15, "full": 30}
BUDGET = 0.005


def early_exit_loss(exit_logits, y):
    total = sum(w * F.cross_entropy(logits, y) for w, logits in zip(EXIT_WEIGHTS, exit_logits, strict=True))
    return total / sum(EXIT_WEIGHTS)


def notebook_arch() -> dict:
    """Notebook 03's architecture: at the small size a wider ResNet with a strided stem; ResNet-20 at full size."""
    return {**cl.models.default_arch(), **cl.env.pick(small=SMALL_ARCH, full={})}


def trained_model() -> tuple[torch.nn.Module, cl.data.Splits]:
    """The notebook's early-exit ResNet, loaded from the checkpoint cache (or trained with the same config)."""
    splits = cl.data.load_dataset(cl.env.pick(small="embedded", full="cifar10"))
    arch = notebook_arch()
    batch_size = cl.env.pick(small=64, full=128)
    loaders = cl.data.make_loaders(splits, batch_size=batch_size)
    cl.env.set_seed(0)
    model = cl.models.EarlyExitResNet(num_classes=splits.num_classes, in_channels=splits.input_shape[0], **arch)
    cl.training.fit(
        model,
        loaders["train"],
        num_epochs=cl.env.pick(**NUM_EPOCHS),
        lr=cl.env.pick(small=0.05, full=0.1),
        loss_fn=early_exit_loss,
        val_loader=loaders["val"],
        augment=cl.env.pick(small="shift", full="shift_flip"),
        config={
            "name": "ee_resnet_03",
            "dataset": splits.name,
            **arch,
            "exit_weights": EXIT_WEIGHTS,
            "batch_size": batch_size,
            "seed": 0,
        },
        desc="bench",
    )
    return model.cpu().eval(), splits


def bench_device(model, X, threshold, mac_ratio, device, batch_size, repeats, ref) -> dict:
    model = model.to(device)
    X = X.to(device)
    batches = list(X.split(batch_size))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def full():
        with torch.inference_mode():
            for xb in batches:
                model(xb)

    def early():
        with torch.inference_mode():
            for xb in batches:
                ref.early_exit_inference(model, xb, threshold)

    times = cl.timing.median_times({"full": full, "early": early}, repeats, sync)
    t_full, t_early = times["full"], times["early"]
    speedup = t_full / t_early
    return {
        "device": device.type,
        "batch_size": batch_size,
        "samples": len(X),
        "repeats": repeats,
        "full_ms_per_sample": 1000 * t_full / len(X),
        "early_ms_per_sample": 1000 * t_early / len(X),
        "speedup": speedup,
        "mac_ratio": mac_ratio,
        "speedup_over_mac_ratio": speedup / mac_ratio,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per setting (median reported)")
    parser.add_argument("--batch1-samples", type=int, default=300, help="test images timed at batch 1")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    ref = content.load("03_early_exit", "reference")
    model, splits = trained_model()
    loaders = cl.data.make_loaders(splits)
    val_logits, val_y = cl.training.collect_logits(model, loaders["val"], device="cpu")
    test_logits, test_y = cl.training.collect_logits(model, loaders["test"], device="cpu")
    costs = cl.cost.exit_costs(model, splits.input_shape)
    thresholds = [0.0] + torch.logspace(
        -4, torch.log10(torch.tensor(float(splits.num_classes)).log()).item(), 120
    ).tolist()
    chosen = ref.choose_threshold(val_logits, val_y, test_logits, test_y, thresholds, costs, BUDGET)
    _, exits = ref.early_exit_inference(model, splits.X_test, chosen["threshold"])
    mac_ratio = costs[-1] / ref.expected_cost(exits, costs)

    rows = []
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        rows.append(bench_device(model, splits.X_test, chosen["threshold"], mac_ratio, device, 256, args.repeats, ref))
        rows.append(
            bench_device(
                model,
                splits.X_test[: args.batch1_samples],
                chosen["threshold"],
                mac_ratio,
                device,
                1,
                max(3, args.repeats // 2),
                ref,
            )
        )
    model.cpu()

    test_final = float((test_logits[-1].argmax(-1) == test_y).double().mean())
    print(f"# Early exit vs full network ({splits.name}, {cl.env.run_size()} size)\n")
    print(
        f"threshold {chosen['threshold']:.4f} nats chosen on validation (budget {100 * BUDGET:.1f} points); "
        f"test accuracy {100 * chosen['test_acc']:.2f}% vs final exit {100 * test_final:.2f}%; "
        f"exits per test sample: {torch.bincount(exits, minlength=len(costs)).tolist()}"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor() or 'cpu'}"
        + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "")
        + "\n"
    )
    print(
        "| device | batch | samples | full ms/sample | early-exit ms/sample | speedup | MAC ratio | speedup / MAC ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['device']} | {r['batch_size']} | {r['samples']} | {r['full_ms_per_sample']:.3f} | "
            f"{r['early_ms_per_sample']:.3f} | {r['speedup']:.2f}x | {r['mac_ratio']:.2f}x | "
            f"{r['speedup_over_mac_ratio']:.2f} |"
        )
    print(
        "\nTarget: speedup / MAC ratio >= 0.75 at batch 256 on the CPU. Medians of repeated runs; a shared machine "
        "makes them noisy."
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "chosen": chosen,
                    "exit_costs": costs,
                    "test_final_acc": test_final,
                    "threads": torch.get_num_threads(),
                    "results": rows,
                },
                indent=2,
            )
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
