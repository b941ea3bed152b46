"""GPU check: seconds per full-size training epoch, and CPU/GPU parity of the hidden tests' verdicts.

Usage (repository root, venv active):
    python -m benchmarks.gpu_check [--out docs/benchmarks] [--quick]

What it does:
1. Training time. ResNet-20 (`cl.models.ResNet` with `cl.models.default_arch("full")`, as notebook 00 builds it) and
   the early-exit ResNet-20 (`cl.models.EarlyExitResNet`, same arch, as notebook 03 builds it at full size) train
   through `cl.training.fit` on synthetic 3x32x32 tensors at batch 128 with `shift_flip` augmentation, fed through
   `cl.data.make_loaders` exactly as the notebooks feed CIFAR-10. A short warm-up fit comes first (cuDNN set-up,
   allocator), then one timed epoch of a few hundred steps on CUDA (a handful on the CPU), scaled to the 352 steps of
   a full-size epoch (45,000 images), plus one validation pass (`cl.training.collect_logits`) scaled to 5,000 images.
   On CUDA each model is timed with amp="auto" (fp16) and amp="off" when `fit` has an `amp` keyword; on the CPU
   "auto" already means no autocast, so only "auto" is timed.
2. Verdict parity. Every hidden suite runs on the reference implementations and on every mutant (the tests of each
   mutant's target test cells, as tests/test_mutants.py runs them) twice: once with the machine's default device
   (CUDA on a GPU machine: `course_lib.env.get_device()` as is) and once forced to the CPU
   (`course_lib.env.get_device` returns the CPU and `torch.cuda.is_available()` is False). The verdict of every test
   (passed / not passed) must agree. Without CUDA both passes run on the CPU and the report says so.
   `--quick` (CI) runs every stem's reference suite and its first QUICK_MUTANTS_PER_STEM mutant(s), leaving out the
   test cells in QUICK_SKIP_CELLS (the ones that train networks, about 25 s per pass on 2 busy cores), and times
   fewer steps.
3. The report: docs/benchmarks/gpu_check_<device>.md and gpu_check_<device>.json (device e.g. `tesla-t4`,
   `nvidia-h200`, `cpu-2core`), with the versions, the timings and the parity table. (Named gpu_check_* so that it
   never overwrites `python -m benchmarks`'s report_<machine>.md.)

Exit status: 0 when every verdict agrees, 1 when some disagree, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "benchmarks"

FULL_TRAIN_IMAGES = 45_000  # CIFAR-10 training split at the full size (50,000 minus 5,000 validation)
FULL_VAL_IMAGES = 5_000
BATCH_SIZE = 128
EVAL_BATCH_SIZE = 512  # cl.data.make_loaders' default for val/test
STEPS_PER_FULL_EPOCH = math.ceil(FULL_TRAIN_IMAGES / BATCH_SIZE)  # 352
EXIT_WEIGHTS = (0.3, 0.3, 1.0)  # side exits 0.3, final exit 1.0, as in notebooks 02 and 03
QUICK_MUTANTS_PER_STEM = 1
# Test cells --quick leaves out: they train small networks through fit (the slow part of a parity pass on a CPU).
QUICK_SKIP_CELLS = {"02_branchynet": ("test_train_early_exit",), "05_self_distillation": ("test_train_exit_model",)}

# (warm-up steps, timed steps, validation images) per device kind and mode
TIMING_PLAN = {
    ("cuda", False): (20, 200, FULL_VAL_IMAGES),
    ("cuda", True): (10, 50, 2_048),
    ("cpu", False): (1, 4, 512),
    ("cpu", True): (1, 1, 128),
}
MODELS = ("resnet20", "early_exit_resnet20")


# ---------------------------------------------------------------------------------------------
# Machine


def device_tag() -> str:
    """A file-name tag for this machine: the GPU's name (e.g. 'tesla-t4', 'nvidia-h200') or 'cpu-<n>core'."""
    if torch.cuda.is_available():
        return slug(torch.cuda.get_device_name(0))
    return f"cpu-{os.cpu_count()}core"


def slug(name: str) -> str:
    """Lower-case `name` with every run of other characters than letters and digits turned into one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"


def machine_info() -> dict:
    """Versions and hardware that the numbers depend on."""
    cuda = torch.cuda.is_available()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": cuda,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if cuda else None,
    }


@contextlib.contextmanager
def quiet_course_env() -> Iterator[Path]:
    """No progress bars, no smoke-test cap, no fit log, and an empty private checkpoint cache (yielded)."""
    saved = {
        name: os.environ.get(name)
        for name in ("TQDM_DISABLE", "COURSE_TRAIN_CAP", "COURSE_FIT_LOG", "COURSE_CACHE_DIR")
    }
    with tempfile.TemporaryDirectory(prefix="gpu-check-cache-") as cache:
        os.environ["TQDM_DISABLE"] = "1"
        os.environ["COURSE_CACHE_DIR"] = cache
        os.environ.pop("COURSE_TRAIN_CAP", None)
        os.environ.pop("COURSE_FIT_LOG", None)
        try:
            yield Path(cache)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def say(message: str) -> None:
    """Print a progress line at once (the hidden tests' own output interleaves with it)."""
    print(message, flush=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------
# 1. Seconds per full-size epoch


def build_model(kind: str) -> torch.nn.Module:
    """The full-size model `kind` ('resnet20' or 'early_exit_resnet20') for 3x32x32 inputs and 10 classes."""
    import course_lib as cl

    arch = cl.models.default_arch("full")
    if kind == "resnet20":
        return cl.models.ResNet(num_classes=10, in_channels=3, **arch)
    if kind == "early_exit_resnet20":
        return cl.models.EarlyExitResNet(num_classes=10, in_channels=3, **arch)
    raise ValueError(f"unknown model {kind!r}; use one of {MODELS}")


def early_exit_loss(outputs: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """Weighted sum of the exits' cross-entropies (weights EXIT_WEIGHTS), the loss notebooks 02/03 train with."""
    import torch.nn.functional as F

    return sum(w * F.cross_entropy(out, y) for w, out in zip(EXIT_WEIGHTS, outputs, strict=True))  # type: ignore[return-value]


def synthetic_loaders(n_train: int, n_val: int, seed: int = 0) -> dict:
    """Loaders over random 3x32x32 images built by cl.data.make_loaders, as the notebooks build them."""
    import course_lib as cl

    gen = torch.Generator().manual_seed(seed)

    def images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(n, 3, 32, 32, generator=gen), torch.randint(0, 10, (n,), generator=gen)

    (X_train, y_train), (X_val, y_val), (X_test, y_test) = images(n_train), images(n_val), images(1)
    splits = cl.data.Splits(
        "synthetic-3x32x32", X_train, y_train, X_val, y_val, X_test, y_test, tuple(str(c) for c in range(10))
    )
    return cl.data.make_loaders(splits, batch_size=BATCH_SIZE, eval_batch_size=EVAL_BATCH_SIZE)


def fit_has_amp() -> bool:
    """True when cl.training.fit takes an `amp` keyword."""
    import course_lib as cl

    return "amp" in inspect.signature(cl.training.fit).parameters


def amp_modes(device: torch.device) -> tuple[str | None, ...]:
    """The amp settings to time: ("auto", "off") on CUDA when fit has `amp`, ("auto",) on the CPU, else (None,)."""
    if not fit_has_amp():
        return (None,)
    return ("auto", "off") if device.type == "cuda" else ("auto",)


def _fit_once(kind: str, steps: int, amp: str | None, device: torch.device, seed: int) -> tuple[torch.nn.Module, float]:
    """Train a fresh model for one epoch of `steps` steps; return it and the epoch's seconds as fit measured them."""
    import course_lib as cl

    torch.manual_seed(seed)
    model = build_model(kind)
    loaders = synthetic_loaders(steps * BATCH_SIZE, 1, seed)
    extra: dict[str, Any] = {} if amp is None else {"amp": amp}
    loss_fn = early_exit_loss if kind == "early_exit_resnet20" else None
    _sync(device)
    history = cl.training.fit(
        model,
        loaders["train"],
        num_epochs=1,
        lr=0.1,
        loss_fn=loss_fn,
        augment="shift_flip",
        device=device,
        desc=f"gpu-check {kind}",
        verbose=False,
        **extra,
    )
    _sync(device)
    return model, float(history[-1]["seconds"])


def time_validation(model: torch.nn.Module, n_val: int, device: torch.device) -> float:
    """Seconds of one eval pass (cl.training.collect_logits) over n_val synthetic images, after one warm-up batch."""
    import course_lib as cl

    loader = synthetic_loaders(1, n_val, seed=1)["val"]
    warm = synthetic_loaders(1, min(n_val, EVAL_BATCH_SIZE), seed=2)["val"]
    cl.training.collect_logits(model, warm, device)
    _sync(device)
    start = time.perf_counter()
    cl.training.collect_logits(model, loader, device)
    _sync(device)
    return time.perf_counter() - start


def forward_macs(kind: str) -> int:
    """Forward MACs per image of the full-size model (course convention: conv and linear layers)."""
    import course_lib as cl

    return cl.cost.module_macs(build_model(kind), torch.zeros(1, 3, 32, 32))


def measure_training(quick: bool, device: torch.device | None = None, log: Callable[[str], None] = say) -> dict:
    """Time both models under every amp mode; rows with seconds per step and per full-size epoch."""
    import course_lib as cl

    device = device or cl.env.get_device(verbose=False)
    warmup, steps, n_val = TIMING_PLAN[("cuda" if device.type == "cuda" else "cpu", quick)]
    rows = []
    with quiet_course_env():
        for kind in MODELS:
            macs = forward_macs(kind)
            for amp in amp_modes(device):
                _fit_once(kind, warmup, amp, device, seed=0)
                model, seconds = _fit_once(kind, steps, amp, device, seed=0)
                val_seconds = time_validation(model, n_val, device)
                per_step = seconds / steps
                epoch = per_step * STEPS_PER_FULL_EPOCH
                val_full = val_seconds * FULL_VAL_IMAGES / n_val
                train_flop = 2 * 3 * macs * BATCH_SIZE * steps
                row = {
                    "model": kind,
                    "amp": amp if amp is not None else "(fit has no amp keyword)",
                    "device": str(device),
                    "forward_macs_per_image": macs,
                    "warmup_steps": warmup,
                    "timed_steps": steps,
                    "seconds_timed": round(seconds, 4),
                    "seconds_per_step": round(per_step, 5),
                    "train_seconds_per_full_epoch": round(epoch, 2),
                    "val_images_timed": n_val,
                    "val_seconds_per_5000": round(val_full, 2),
                    "epoch_seconds_with_val": round(epoch + val_full, 2),
                    "effective_train_tflops": round(train_flop / seconds / 1e12, 3),
                }
                rows.append(row)
                log(
                    f"[gpu_check] {kind} amp={row['amp']}: {per_step * 1000:.1f} ms/step, "
                    f"{epoch:.1f} s per 352-step epoch (+{val_full:.1f} s validation)"
                )
                del model
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return {
        "device": str(device),
        "batch_size": BATCH_SIZE,
        "steps_per_full_epoch": STEPS_PER_FULL_EPOCH,
        "full_train_images": FULL_TRAIN_IMAGES,
        "full_val_images": FULL_VAL_IMAGES,
        "fit_has_amp": fit_has_amp(),
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------------
# 2. Verdict parity


@dataclass(frozen=True)
class ParityCase:
    """One subject of the parity run: a stem's reference or one mutant; `run` returns {test name: state}."""

    stem: str
    subject: str
    run: Callable[[], dict[str, str]]


@dataclass
class Disagreement:
    """A test whose verdict (passed / not passed) differs between the two passes."""

    stem: str
    subject: str
    test: str
    device_state: str
    cpu_state: str


@dataclass
class ParityResult:
    """Both passes' states per case and what differs."""

    device_label: str
    cpu_label: str
    rows: list[dict] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    state_only: list[Disagreement] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def agree(self) -> bool:
        return not self.disagreements


def hidden_stems() -> list[str]:
    """The notebook stems that have a hidden suite."""
    from autograder import content

    return content.stems()


def _suite_states(stem: str, overrides: dict | None, grade_ids: set[str] | None) -> dict[str, str]:
    from autograder.student import LocalStudent
    from autograder.suite import reference_namespace, run_suite

    namespace = reference_namespace(stem)
    namespace.update(overrides or {})
    return {r.test: r.state for r in run_suite(stem, LocalStudent(namespace), grade_ids)}


def parity_cases(stems: list[str] | None = None, quick: bool = False) -> list[ParityCase]:
    """Each stem's reference and mutants; with `quick`, QUICK_SKIP_CELLS left out and QUICK_MUTANTS_PER_STEM mutants."""
    from autograder import content
    from autograder.suite import load_suite

    cases = []
    for stem in stems or hidden_stems():
        suite = load_suite(stem)
        skipped = set(QUICK_SKIP_CELLS.get(stem, ())) if quick else set()
        cells = {t.grade_id for t in suite.tests} - skipped
        cases.append(ParityCase(stem, "reference", partial(_suite_states, stem, None, cells)))
        chosen: list[ParityCase] = []
        for mutant in content.load(stem, "mutants").MUTANTS:
            targets = {t.grade_id for t in suite.tests if t.name in mutant.targets}
            if quick and (targets & skipped or len(chosen) >= QUICK_MUTANTS_PER_STEM):
                continue
            chosen.append(
                ParityCase(
                    stem, f"mutant: {mutant.description}", partial(_suite_states, stem, mutant.overrides, targets)
                )
            )
        cases += chosen
    return cases


@contextlib.contextmanager
def forced_device(device: torch.device | str) -> Iterator[None]:
    """Make course_lib.env.get_device() return `device` (and torch.cuda.is_available() False unless it is CUDA).

    Every module attribute bound to the original get_device (e.g. `from course_lib.env import get_device` at module
    level) is patched too, and everything is restored on exit.
    """
    from course_lib import env

    device = torch.device(device)
    original = env.get_device

    def pinned(verbose: bool = True) -> torch.device:
        return device

    holders = [
        m
        for name, m in list(sys.modules.items())
        if m is not None
        and name.split(".")[0] in ("course_lib", "autograder", "benchmarks")
        and getattr(m, "get_device", None) is original
    ]
    real_is_available = torch.cuda.is_available
    for module in holders:
        module.get_device = pinned  # type: ignore[attr-defined]
    if device.type != "cuda":
        torch.cuda.is_available = lambda: False  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.cuda.is_available = real_is_available  # type: ignore[assignment]
        for module in holders:
            module.get_device = original  # type: ignore[attr-defined]


def run_pass(
    cases: list[ParityCase],
    context: Callable[[], contextlib.AbstractContextManager],
    log: Callable[[str], None] = say,
    label: str = "",
) -> tuple[dict[tuple[str, str], dict[str, str]], float]:
    """Run every case inside `context()` with a fresh checkpoint cache and seed 0; states per (stem, subject)."""
    states: dict[tuple[str, str], dict[str, str]] = {}
    start = time.perf_counter()
    with quiet_course_env(), context():
        for case in cases:
            torch.manual_seed(0)
            try:
                states[(case.stem, case.subject)] = case.run()
            except Exception as err:  # noqa: BLE001 - a broken suite or mutant module: record it, keep going
                states[(case.stem, case.subject)] = {"(case)": f"error: {type(err).__name__}: {err}"[:300]}
    seconds = time.perf_counter() - start
    log(f"[gpu_check] parity pass {label}: {len(cases)} cases in {seconds:.1f} s")
    return states, seconds


def compare_passes(
    cases: list[ParityCase], device_states: dict, cpu_states: dict, device_label: str, cpu_label: str
) -> ParityResult:
    """Verdict per test in both passes; a disagreement is passed on one side and anything else on the other."""
    result = ParityResult(device_label, cpu_label)
    for case in cases:
        key = (case.stem, case.subject)
        dev, cpu = device_states.get(key, {}), cpu_states.get(key, {})
        for test in sorted(set(dev) | set(cpu)):
            d, c = dev.get(test, "missing"), cpu.get(test, "missing")
            row = Disagreement(case.stem, case.subject, test, d, c)
            if (d == "passed") != (c == "passed"):
                result.disagreements.append(row)
            elif d != c:
                result.state_only.append(row)
        result.rows.append(
            {"stem": case.stem, "subject": case.subject, "tests": len(set(dev) | set(cpu)), "device": dev, "cpu": cpu}
        )
    return result


def check_parity(
    cases: list[ParityCase],
    device_context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    device_label: str | None = None,
    log: Callable[[str], None] = say,
) -> ParityResult:
    """Run `cases` with the default device (or `device_context`) and forced to the CPU; compare the verdicts."""
    if device_label is None:
        device_label = "cuda" if torch.cuda.is_available() else "cpu (no CUDA on this machine)"
    device_states, device_seconds = run_pass(cases, device_context, log, device_label)
    cpu_states, cpu_seconds = run_pass(cases, lambda: forced_device("cpu"), log, "cpu (forced)")
    result = compare_passes(cases, device_states, cpu_states, device_label, "cpu (forced)")
    result.seconds = {"device": round(device_seconds, 1), "cpu": round(cpu_seconds, 1)}
    return result


def parity_summary(result: ParityResult) -> list[dict]:
    """One row per stem: subjects, tests run per pass, verdicts agreeing and disagreeing."""
    summary: dict[str, dict] = {}
    for row in result.rows:
        entry = summary.setdefault(row["stem"], {"stem": row["stem"], "reference": 0, "mutants": 0, "test_runs": 0})
        entry["reference" if row["subject"] == "reference" else "mutants"] += 1
        entry["test_runs"] += row["tests"]
    for entry in summary.values():
        entry["disagree"] = sum(d.stem == entry["stem"] for d in result.disagreements)
        entry["agree"] = entry["test_runs"] - entry["disagree"]
        entry["state_only"] = sum(d.stem == entry["stem"] for d in result.state_only)
    return list(summary.values())


# ---------------------------------------------------------------------------------------------
# 3. Report


def _md_table(rows: list[dict], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines


def render_markdown(tag: str, info: dict, training: dict | None, parity: ParityResult, quick: bool) -> str:
    """The report: machine, what was measured and how, the epoch timings, the parity table and every disagreement."""
    lines = [
        f"# GPU check: {tag}",
        "",
        "Produced by `python -m benchmarks.gpu_check"
        + (" --quick`" if quick else "`")
        + '; see docs/benchmarks.md, section "GPU check", for the method.',
        "",
    ]
    lines += _md_table([info], ["date", "machine", "load_1min", "python", "torch", "torch_cuda", "cudnn", "device"])
    lines += ["", "(load_1min: the 1-minute load average at the start; CPU timings on a busy machine are slower.)", ""]
    lines += ["## Seconds per full-size training epoch", ""]
    if training is None:
        lines += ["Not measured in this run.", ""]
    else:
        lines += [
            f"Batch {BATCH_SIZE}, synthetic 3x32x32 tensors through `cl.data.make_loaders` and "
            f"`cl.training.fit` (`shift_flip` augmentation, SGD, one-cycle LR) on `{training['device']}`; "
            f"one warm-up fit, then one timed epoch scaled to {STEPS_PER_FULL_EPOCH} steps "
            f"({FULL_TRAIN_IMAGES:,} images); the validation pass is `collect_logits` scaled to "
            f"{FULL_VAL_IMAGES:,} images. `fit` has an amp keyword: {training['fit_has_amp']}.",
            "",
        ]
        lines += _md_table(
            training["rows"],
            [
                "model",
                "amp",
                "forward_macs_per_image",
                "timed_steps",
                "seconds_per_step",
                "train_seconds_per_full_epoch",
                "val_seconds_per_5000",
                "epoch_seconds_with_val",
                "effective_train_tflops",
            ],
        ) + [""]
    lines += ["## Verdict parity of the hidden tests", ""]
    if not info["cuda_available"]:
        lines += [
            "**No CUDA device on this machine: both passes ran on the CPU, so this compares the CPU with the "
            "CPU** (it checks that verdicts are reproducible and that the comparison runs, not CPU/GPU parity).",
            "",
        ]
    skipped = ", ".join(f"{stem} {'/'.join(cells)}" for stem, cells in QUICK_SKIP_CELLS.items())
    scope = (
        f"quick subset: every stem's reference suite and its first {QUICK_MUTANTS_PER_STEM} mutant(s), "
        f"without the test cells {skipped}"
        if quick
        else "every stem's reference suite and every mutant"
    )
    lines += [
        f"Passes: `{parity.device_label}` ({parity.seconds.get('device', '?')} s) against "
        f"`{parity.cpu_label}` ({parity.seconds.get('cpu', '?')} s); {scope}. A verdict is passed or not "
        f"passed; mutants run the tests of their target cells.",
        "",
    ]
    lines += _md_table(
        parity_summary(parity), ["stem", "reference", "mutants", "test_runs", "agree", "disagree", "state_only"]
    ) + [""]
    verdict = "**All verdicts agree.**" if parity.agree else f"**{len(parity.disagreements)} verdict(s) disagree:**"
    lines += [verdict, ""]
    if parity.disagreements:
        lines += _md_table(
            [asdict(d) for d in parity.disagreements], ["stem", "subject", "test", "device_state", "cpu_state"]
        ) + [""]
    if parity.state_only:
        lines += ["Same verdict, different state (not a disagreement):", ""]
        lines += _md_table(
            [asdict(d) for d in parity.state_only], ["stem", "subject", "test", "device_state", "cpu_state"]
        ) + [""]
    return "\n".join(lines)


def write_report(
    out_dir: Path, tag: str, info: dict, training: dict | None, parity: ParityResult, quick: bool
) -> tuple[Path, Path]:
    """Write gpu_check_<tag>.md and gpu_check_<tag>.json into out_dir; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / f"gpu_check_{tag}.md", out_dir / f"gpu_check_{tag}.json"
    md_path.write_text(render_markdown(tag, info, training, parity, quick) + "\n")
    payload = {
        "info": info,
        "quick": quick,
        "training": training,
        "parity": {
            "device_label": parity.device_label,
            "cpu_label": parity.cpu_label,
            "seconds": parity.seconds,
            "agree": parity.agree,
            "summary": parity_summary(parity),
            "disagreements": [asdict(d) for d in parity.disagreements],
            "state_only": [asdict(d) for d in parity.state_only],
            "cases": parity.rows,
        },
    }
    json_path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return md_path, json_path


def main(argv: list[str] | None = None) -> int:
    """Measure, compare, write the report; return 0 when all verdicts agree, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (docs/benchmarks)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"CI subset: references plus {QUICK_MUTANTS_PER_STEM} mutant(s) per stem, fewer steps",
    )
    parser.add_argument("--skip-training", action="store_true", help="parity only, no epoch timing")
    args = parser.parse_args(argv)
    tag, info = device_tag(), machine_info()
    say(f"[gpu_check] {tag}: torch {info['torch']}, CUDA {info['torch_cuda']}, device {info['device']}")
    training = None if args.skip_training else measure_training(args.quick)
    parity = check_parity(parity_cases(quick=args.quick))
    md_path, json_path = write_report(args.out, tag, info, training, parity, args.quick)
    say(
        f"[gpu_check] {'all verdicts agree' if parity.agree else f'{len(parity.disagreements)} disagree'}; "
        f"report: {md_path}, {json_path}"
    )
    return 0 if parity.agree else 1


if __name__ == "__main__":
    sys.exit(main())
