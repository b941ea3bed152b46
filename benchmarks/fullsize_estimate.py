"""Expected full-size time per notebook on a Colab T4, estimated from a fit log of a full-size smoke run.

Usage (repository root, venv active):
    COURSE_FIT_LOG=runs/fits.jsonl COURSE_SIZE=full COURSE_TRAIN_CAP=1:3 COURSE_CACHE_DIR=<empty> ... \\
        python -m autograder execute ... | tee runs/execute.log    # the smoke run: one JSON line per fit call
    python -m benchmarks.fullsize_estimate runs/fits.jsonl [--execute-log runs/execute.log]
        [--notebook-seconds 03_early_exit=41.5 ...] [--cpu-step-seconds 0.32 | --measure-cpu] [--out docs/benchmarks]

Input: JSONL lines as `cl.training.fit` appends them to $COURSE_FIT_LOG (desc, config, num_epochs, epochs_run,
steps_run, steps_per_epoch, train_size, batch_size, model, macs_per_image, amp, device, seconds, cached). A line's
notebook is its "stem" field (fit writes the stem given to cl.env.setup_notebook), otherwise the log file's name
(`<stem>.jsonl`). Optional fields used when present:
"dataset" (cifar10 / fashion_mnist; default cifar10) and "val_size".

Method (written into the output too):
- The smoke run trains on a few hundred synthetic images. A fit whose train_size is the largest of its notebook (the
  whole synthetic training split; `--smoke-train-size` sets it) stands for a fit on the real training split and is
  scaled to it: CIFAR-10 45,000 (val 5,000, test 10,000), Fashion-MNIST 55,000 (5,000 / 10,000). Smaller fits (the
  visible checks' tiny runs) keep their own sizes. A subset of the training split looks like the whole split in the
  smoke run, so such a fit is over-estimated.
- Training FLOPs = 2 x 3 x forward MACs per image x images x requested epochs (forward + backward = 3 forwards,
  2 FLOPs per MAC), plus, for a scaled fit, one validation pass (2 x MACs x 5,000) per epoch.
- Time per fit = max(FLOPs / effective T4 rate, steps x host overhead per step), steps counting training batches and
  validation batches (512 images). Assumptions (review-fullsize-gpu.md, section 2): 2-4 TFLOP/s effective for these
  small fp16 convolutions (amp "auto" or "fp16" on CUDA), half that for fp32 (amp "off"), 8 ms of host overhead per
  step. A fit loaded from the checkpoint cache costs nothing (run the smoke test with an empty cache, as a first run
  on Colab has).
- Plus the notebook's non-training time in the smoke run (its wall time minus its fits' seconds, on this CPU with
  tiny data): rough; at full size the CPU-side work (k-NN probes, CPU timing) is larger.
- Calibration: one measured full-size ResNet-20 training step on this CPU (batch 128) gives this CPU's effective
  rate, so the assumed T4 rate can be read as a multiple of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "benchmarks"
OUTPUT_NAME = "fullsize_t4_estimate"

# Real full-size splits: (train, val, test) images.
DATASETS = {"cifar10": (45_000, 5_000, 10_000), "fashion_mnist": (55_000, 5_000, 10_000)}
DATASET_ALIASES = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "fashion_mnist": "fashion_mnist",
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
}
FP32_AMP_MODES = ("off",)
REQUIRED = ("num_epochs", "steps_per_epoch", "train_size", "batch_size", "macs_per_image", "seconds")
STEM_PATTERN = re.compile(r"^[0-9][0-9]_\w+$")
EXECUTE_LINE = re.compile(r"\[execute\] (\S+): (\S+) in ([0-9.]+) s")
RESNET20_MACS = 40_813_184  # forward MACs per 3x32x32 image of the full-size ResNet-20 (cl.cost convention)


@dataclass(frozen=True)
class Assumptions:
    """The stated assumptions of the estimate (rates in FLOP/s, times in seconds)."""

    fp16_rate: tuple[float, float] = (2e12, 4e12)
    fp32_rate: tuple[float, float] = (1e12, 2e12)
    host_overhead: float = 0.008
    eval_batch_size: int = 512
    budget: float = 600.0


@dataclass(frozen=True)
class FitCall:
    """One line of the fit log, reduced to what the estimate needs."""

    notebook: str
    desc: str
    config: str | None
    model: str
    num_epochs: int
    steps_per_epoch: int
    train_size: int
    batch_size: int
    macs_per_image: int | None
    amp: str
    seconds: float
    cached: bool
    dataset: str = "cifar10"
    val_size: int | None = None


@dataclass(frozen=True)
class FitEstimate:
    """The T4 estimate for one fit call."""

    call: FitCall
    scaled: bool
    images_per_epoch: int
    val_images_per_epoch: int
    steps: int
    flop: float
    seconds_low: float
    seconds_high: float


@dataclass
class NotebookEstimate:
    """The T4 estimate for one notebook: sums over its fits plus its non-training time."""

    notebook: str
    fits: list[FitEstimate] = field(default_factory=list)
    smoke_seconds: float | None = None
    unknown_macs: int = 0

    @property
    def trained(self) -> list[FitEstimate]:
        return [f for f in self.fits if not f.call.cached]

    @property
    def requested_epochs(self) -> int:
        """Requested epochs of the trained fits on the whole training split (tiny check fits left out)."""
        return sum(f.call.num_epochs for f in self.trained if f.scaled)

    @property
    def flop(self) -> float:
        return sum(f.flop for f in self.trained)

    @property
    def non_training_seconds(self) -> float | None:
        """The smoke run's wall time minus its fits' seconds (never below 0); None without a wall time."""
        if self.smoke_seconds is None:
            return None
        return max(0.0, self.smoke_seconds - sum(f.call.seconds for f in self.fits))

    @property
    def seconds_range(self) -> tuple[float, float]:
        extra = self.non_training_seconds or 0.0
        return (sum(f.seconds_low for f in self.trained) + extra, sum(f.seconds_high for f in self.trained) + extra)

    def verdict(self, budget: float) -> str:
        """'yes' when even the high end fits the budget, 'no' when the low end does not, else 'borderline'."""
        if self.unknown_macs:
            return "unknown (MACs missing)"
        low, high = self.seconds_range
        return "yes" if high < budget else "no" if low >= budget else "borderline"


# ---------------------------------------------------------------------------------------------
# Reading the inputs


def _dataset_name(raw: object) -> str:
    name = DATASET_ALIASES.get(str(raw).strip().lower())
    if name is None:
        raise ValueError(f"unknown dataset {raw!r} in the fit log; known: {sorted(DATASETS)}")
    return name


def parse_fit_log(path: Path, default_notebook: str | None = None) -> list[FitCall]:
    """Every fit call in one JSONL fit log; a clear ValueError for a line that is not a fit record."""
    path = Path(path)
    notebook_default = default_notebook or path.stem
    calls = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        where = f"line {number} of {path}"
        try:
            line = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{where} is not JSON ({err.msg}); a fit log has one JSON object per line, as "
                f"cl.training.fit writes it when COURSE_FIT_LOG is set."
            ) from None
        if not isinstance(line, dict):
            raise ValueError(f"{where} is a JSON {type(line).__name__}, not an object describing one fit call.")
        missing = [key for key in REQUIRED if key not in line]
        if missing:
            raise ValueError(
                f"{where} lacks {', '.join(missing)}; is it from an older cl.training.fit? Re-run the "
                f"smoke test with the current course_lib."
            )
        macs = line["macs_per_image"]
        calls.append(
            FitCall(
                notebook=str(line.get("stem") or line.get("notebook") or notebook_default),
                desc=str(line.get("desc", "")),
                config=line.get("config"),
                model=str(line.get("model", "?")),
                num_epochs=int(line["num_epochs"]),
                steps_per_epoch=int(line["steps_per_epoch"]),
                train_size=int(line["train_size"]),
                batch_size=int(line["batch_size"]),
                macs_per_image=None if macs is None else int(macs),
                amp=str(line.get("amp", "auto")),
                seconds=float(line["seconds"]),
                cached=bool(line.get("cached", False)),
                dataset=_dataset_name(line.get("dataset", "cifar10")),
                val_size=None if line.get("val_size") is None else int(line["val_size"]),
            )
        )
    return calls


def parse_execute_log(text: str) -> dict[str, float]:
    """Notebook wall seconds from `python -m autograder execute` output ('[execute] <stem>: ok in 41.2 s')."""
    return {m.group(1): float(m.group(3)) for m in EXECUTE_LINE.finditer(text)}


def parse_seconds_options(items: list[str]) -> dict[str, float]:
    """STEM=SECONDS command-line items as a dict."""
    out = {}
    for item in items:
        stem, _, value = item.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not stem.strip() or seconds < 0:
            raise ValueError(f"--notebook-seconds takes STEM=SECONDS (e.g. 03_early_exit=41.5), got {item!r}.")
        out[stem.strip()] = seconds
    return out


# ---------------------------------------------------------------------------------------------
# Arithmetic


def estimate_fit(call: FitCall, scaled: bool, assumptions: Assumptions = Assumptions()) -> FitEstimate:
    """FLOPs, steps and the T4 time range of one fit; `scaled` means it stands for the real training split."""
    train_images, val_images, _ = DATASETS[call.dataset]
    if scaled:
        images = train_images
        steps_per_epoch = math.ceil(train_images / call.batch_size)
        val = val_images if call.val_size is None or call.val_size > 0 else 0
    else:
        images, steps_per_epoch = call.train_size, call.steps_per_epoch
        val = call.val_size or 0
    macs = call.macs_per_image or 0
    epochs = call.num_epochs
    flop = 2 * 3 * macs * images * epochs + 2 * macs * val * epochs
    steps = (steps_per_epoch + math.ceil(val / assumptions.eval_batch_size)) * epochs
    low_rate, high_rate = assumptions.fp32_rate if call.amp in FP32_AMP_MODES else assumptions.fp16_rate
    floor = steps * assumptions.host_overhead
    return FitEstimate(
        call,
        scaled,
        images,
        val,
        steps,
        flop,
        seconds_low=max(flop / high_rate, floor),
        seconds_high=max(flop / low_rate, floor),
    )


def estimate_notebooks(
    calls: list[FitCall],
    notebook_seconds: dict[str, float] | None = None,
    assumptions: Assumptions = Assumptions(),
    smoke_train_size: int | None = None,
) -> list[NotebookEstimate]:
    """Group the calls by notebook and estimate each; notebooks in name order."""
    notebook_seconds = notebook_seconds or {}
    by_notebook: dict[str, list[FitCall]] = {}
    for call in calls:
        by_notebook.setdefault(call.notebook, []).append(call)
    for stem in notebook_seconds:
        by_notebook.setdefault(stem, [])
    estimates = []
    for stem in sorted(by_notebook):
        group = by_notebook[stem]
        full_size = smoke_train_size or max((c.train_size for c in group), default=0)
        estimate = NotebookEstimate(stem, smoke_seconds=notebook_seconds.get(stem))
        for call in group:
            estimate.fits.append(estimate_fit(call, call.train_size >= full_size, assumptions))
            estimate.unknown_macs += call.macs_per_image is None and not call.cached
        estimates.append(estimate)
    return estimates


def cpu_rate(step_seconds: float, macs: int = RESNET20_MACS, batch_size: int = 128) -> float:
    """Effective training FLOP/s of a CPU on which one training step of `batch_size` images took step_seconds."""
    return 2 * 3 * macs * batch_size / step_seconds


def measure_cpu_step(steps: int = 3) -> float:
    """Seconds of one full-size ResNet-20 training step (batch 128) through cl.training.fit on this machine's CPU."""
    import torch

    from benchmarks import gpu_check

    cpu = torch.device("cpu")
    with gpu_check.quiet_course_env():
        gpu_check._fit_once("resnet20", 1, None, cpu, seed=0)
        _, seconds = gpu_check._fit_once("resnet20", steps, None, cpu, seed=0)
    return seconds / steps


# ---------------------------------------------------------------------------------------------
# Output


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def method_text(assumptions: Assumptions, cpu_step: float | None, cpu_load: float | None = None) -> list[str]:
    """The method and assumptions as markdown bullet points."""
    lo16, hi16 = (r / 1e12 for r in assumptions.fp16_rate)
    lo32, hi32 = (r / 1e12 for r in assumptions.fp32_rate)
    lines = [
        "- Training FLOPs = 2 x 3 x forward MACs per image x images x requested epochs, plus one validation pass "
        "(2 x MACs x 5,000 images) per epoch for fits on the whole training split. Fits that trained on the whole "
        "synthetic split of the smoke run are scaled to the real split (CIFAR-10 45,000 images, Fashion-MNIST "
        "55,000); smaller fits (visible checks) keep their size.",
        f"- Time per fit = max(FLOPs / effective T4 rate, steps x {assumptions.host_overhead * 1000:.0f} ms host "
        f"overhead); effective rate {lo16:g}-{hi16:g} TFLOP/s with fp16 autocast (amp auto/fp16), {lo32:g}-{hi32:g} "
        f"TFLOP/s in fp32 (amp off); steps = training batches + validation batches of "
        f"{assumptions.eval_batch_size}. Fits loaded from the checkpoint cache cost nothing.",
        "- Plus each notebook's non-training time in the smoke run (wall time minus its fits' seconds, tiny data on "
        "this CPU): rough; at the full size CPU-side work such as k-NN probes or CPU timing grows with the data.",
        f"- Under 10 min: yes when the high end is under {assumptions.budget / 60:.0f} min, no when the low end is "
        "not, borderline otherwise.",
    ]
    if cpu_step is not None:
        rate = cpu_rate(cpu_step)
        lines.append(
            f"- Calibration: one full-size ResNet-20 training step (batch 128) took {cpu_step:.3f} s on this "
            f"CPU, {rate / 1e9:.0f} GFLOP/s effective, so the assumed fp16 T4 rate is "
            f"{assumptions.fp16_rate[0] / rate:.0f}-{assumptions.fp16_rate[1] / rate:.0f}x this CPU"
            + (
                "."
                if cpu_load is None
                else f" (measured here at a 1-minute load average of {cpu_load:.1f}; "
                "a busy machine makes the step slower)."
            )
            + " The review measured 0.32 s on 2 idle cores."
        )
    return lines


def render_markdown(
    estimates: list[NotebookEstimate],
    assumptions: Assumptions,
    cpu_step: float | None,
    sources: list[str],
    cpu_load: float | None = None,
) -> str:
    """The estimate table with its method."""
    lines = [
        "# Full size on a Colab T4 (estimated)",
        "",
        "Produced by `python -m benchmarks.fullsize_estimate` from "
        + ", ".join(f"`{s}`" for s in sources)
        + ". Estimated, not measured: see the method below and docs/benchmarks.md.",
        "",
        "| notebook | fit calls | requested epochs | training TFLOP | T4 estimate (range) | under 10 min? |",
        "|---|---|---|---|---|---|",
    ]
    for est in estimates:
        cached = sum(f.call.cached for f in est.fits)
        tiny = sum(not f.scaled for f in est.trained)
        notes = ", ".join(x for x in (f"{cached} cached" if cached else "", f"{tiny} tiny" if tiny else "") if x)
        low, high = est.seconds_range
        extra = est.non_training_seconds
        extra_text = "" if extra is None else f" (incl. {extra:.0f} s non-training)"
        lines.append(
            f"| {est.notebook} | {len(est.fits)}{f' ({notes})' if notes else ''} | {est.requested_epochs} "
            f"| {est.flop / 1e12:.0f} | {_minutes(low)}-{_minutes(high)} min{extra_text} "
            f"| {est.verdict(assumptions.budget)} |"
        )
    missing = [e.notebook for e in estimates if e.smoke_seconds is None]
    odd = [e.notebook for e in estimates if not STEM_PATTERN.match(e.notebook)]
    lines += [""]
    if odd:
        lines += [
            f'**{", ".join(odd)}: not a notebook stem.** Fit-log lines without a "stem" field are given the '
            f"log file's name; write one log per notebook (`COURSE_FIT_LOG=.../<stem>.jsonl`).",
            "",
        ]
    if missing:
        lines += [f"No smoke-run wall time for {', '.join(missing)}: their non-training time is not included.", ""]
    lines += ["## Method", ""] + method_text(assumptions, cpu_step, cpu_load) + [""]
    return "\n".join(lines)


def to_json(
    estimates: list[NotebookEstimate], assumptions: Assumptions, cpu_step: float | None, cpu_load: float | None = None
) -> dict:
    """The numbers behind the table, per notebook and per fit."""
    notebooks = []
    for est in estimates:
        low, high = est.seconds_range
        notebooks.append(
            {
                "notebook": est.notebook,
                "fit_calls": len(est.fits),
                "cached": sum(f.call.cached for f in est.fits),
                "requested_epochs": est.requested_epochs,
                "training_tflop": est.flop / 1e12,
                "smoke_seconds": est.smoke_seconds,
                "non_training_seconds": est.non_training_seconds,
                "t4_seconds_low": low,
                "t4_seconds_high": high,
                "under_10_min": est.verdict(assumptions.budget),
                "fits": [
                    dict(
                        asdict(f.call),
                        scaled=f.scaled,
                        images_per_epoch=f.images_per_epoch,
                        val_images_per_epoch=f.val_images_per_epoch,
                        steps=f.steps,
                        flop=f.flop,
                        seconds_low=f.seconds_low,
                        seconds_high=f.seconds_high,
                    )
                    for f in est.fits
                ],
            }
        )
    return {
        "assumptions": asdict(assumptions),
        "cpu_step_seconds": cpu_step,
        "cpu_load_when_measured": cpu_load,
        "cpu_rate_flops": None if cpu_step is None else cpu_rate(cpu_step),
        "notebooks": notebooks,
    }


def main(argv: list[str] | None = None) -> int:
    """Read the logs, estimate, write fullsize_t4_estimate.md/.json; 0 when every notebook is under 10 min."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fullsize_estimate", description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path, help="JSONL fit logs (COURSE_FIT_LOG files) of the smoke run")
    parser.add_argument("--execute-log", type=Path, help="saved output of `python -m autograder execute`")
    parser.add_argument(
        "--notebook-seconds",
        nargs="*",
        default=[],
        metavar="STEM=SECONDS",
        help="smoke-run wall time of a notebook (overrides --execute-log)",
    )
    parser.add_argument(
        "--smoke-train-size",
        type=int,
        help="train size of the synthetic split (default: the largest train_size per notebook)",
    )
    parser.add_argument("--cpu-step-seconds", type=float, help="measured CPU seconds per ResNet-20 training step")
    parser.add_argument("--measure-cpu", action="store_true", help="measure that step here (a few seconds)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (docs/benchmarks)")
    args = parser.parse_args(argv)
    try:
        calls = [call for path in args.logs for call in parse_fit_log(path)]
        seconds = parse_execute_log(args.execute_log.read_text()) if args.execute_log else {}
        seconds.update(parse_seconds_options(args.notebook_seconds))
    except (OSError, ValueError) as err:
        print(f"fullsize_estimate: {err}", file=sys.stderr)
        return 2
    for stem in sorted({c.notebook for c in calls if not STEM_PATTERN.match(c.notebook)}):
        print(
            f"fullsize_estimate: warning: fits attributed to {stem!r}, which is not a notebook stem (the lines "
            f"have no 'stem' field, so the log file's name is used); write one COURSE_FIT_LOG file per notebook, "
            f"named <stem>.jsonl.",
            file=sys.stderr,
        )
    cpu_load = os.getloadavg()[0] if args.measure_cpu else None
    cpu_step = measure_cpu_step() if args.measure_cpu else args.cpu_step_seconds
    assumptions = Assumptions()
    estimates = estimate_notebooks(calls, seconds, assumptions, args.smoke_train_size)
    args.out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = args.out / f"{OUTPUT_NAME}.md", args.out / f"{OUTPUT_NAME}.json"
    md_path.write_text(render_markdown(estimates, assumptions, cpu_step, [str(p) for p in args.logs], cpu_load) + "\n")
    json_path.write_text(json.dumps(to_json(estimates, assumptions, cpu_step, cpu_load), indent=1) + "\n")
    print(f"[fullsize_estimate] {len(calls)} fit calls, {len(estimates)} notebooks -> {md_path}, {json_path}")
    return 0 if all(e.verdict(assumptions.budget) == "yes" for e in estimates) else 1


if __name__ == "__main__":
    sys.exit(main())
