"""Training loop with progress bars, per-epoch summaries, AMP on CUDA and a checkpoint cache."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence, Sized
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset, default_collate
from tqdm.auto import tqdm

__all__ = [
    "LossFn",
    "cache_dir",
    "config_key",
    "output_logits",
    "random_shift",
    "collect_logits",
    "AMP_MODES",
    "FIT_LOG_ENV_VAR",
    "amp_modes",
    "amp_dtype",
    "one_cycle_pct_start",
    "can_batch_on_device",
    "DeviceBatches",
    "device_batches",
    "SLOW_EPOCH_FACTOR",
    "SLOW_EPOCH_MIN_EXTRA_S",
    "slow_epoch_note",
    "fit",
]

AMP_MODES = ("auto", "off", "fp16", "bf16")
FIT_LOG_ENV_VAR = "COURSE_FIT_LOG"
ONE_CYCLE_PCT_START = 0.2
# An epoch is slow when it takes this many times its expected time, and at least this many seconds more.
SLOW_EPOCH_FACTOR = 3.0
SLOW_EPOCH_MIN_EXTRA_S = 1.0

LossFn = Callable[[Any, torch.Tensor], torch.Tensor]


def cache_dir() -> Path:
    """Checkpoint cache folder: $COURSE_CACHE_DIR, else <data root>/cache/checkpoints.

    Introduced in 00_orientation.
    """
    from course_lib.data import data_root

    env = os.environ.get("COURSE_CACHE_DIR")
    return Path(env) if env else data_root() / "cache" / "checkpoints"


def config_key(config: dict, model: nn.Module) -> str:
    """A hash of the training config plus the model's class and parameter shapes.

    Introduced in 00_orientation.
    """
    shapes = {name: list(p.shape) for name, p in model.state_dict().items()}
    blob = json.dumps({"config": config, "model": type(model).__name__, "shapes": shapes}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def output_logits(output: Any) -> list[torch.Tensor]:
    """The logits in a model output: a tensor, a list of exit logits, or the first item of a tuple.

    Introduced in 00_orientation.
    """
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, list):
        return list(output)
    if isinstance(output, tuple) and output:
        return output_logits(output[0])
    raise TypeError(f"cannot find logits in a model output of type {type(output).__name__}.")


def random_shift(
    X: torch.Tensor, max_shift: int = 2, flip: bool = False, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift every image by its own random offset of up to max_shift pixels (zero padding); optional h-flip.

    Introduced in 00_orientation.
    """
    n, _, height, width = X.shape
    padded = F.pad(X, (max_shift,) * 4)
    # Without a generator, draw on X's device: no host-to-device copy (and no sync) per batch on a GPU.
    offsets = (
        torch.randint(0, 2 * max_shift + 1, (2, n), device=X.device)
        if generator is None
        else torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(X.device)
    )
    rows = offsets[0][:, None] + torch.arange(height, device=X.device)
    cols = offsets[1][:, None] + torch.arange(width, device=X.device)
    out = padded[torch.arange(n, device=X.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    # Copy into a fresh tensor with standard strides: a permuted view with a size-1 channel axis keeps odd
    # strides through .contiguous(), which crashed CPU conv backward in torch 2.15.
    out = torch.empty(X.shape, dtype=X.dtype, device=X.device).copy_(out.permute(0, 3, 1, 2))
    if flip:
        mask = (
            torch.rand(n, device=X.device) if generator is None else torch.rand(n, generator=generator).to(X.device)
        ) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out


@torch.no_grad()
def collect_logits(
    model: nn.Module, loader: DataLoader, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode logits of every exit on a loader: (num_exits, N, C) on the CPU, and labels (N,).

    Introduced in 00_orientation.
    """
    from course_lib.env import get_device

    device = torch.device(device) if device is not None else get_device(verbose=False)
    was_training = model.training
    model.eval().to(device)
    chunks: list[list[torch.Tensor]] = []
    labels = []
    for X, y in loader:
        exits = output_logits(model(X.to(device)))
        chunks.append([e.float() for e in exits])  # stays on the device: one copy to the CPU at the end
        labels.append(y)
    model.train(was_training)
    stacked = torch.stack([torch.cat([c[k] for c in chunks]) for k in range(len(chunks[0]))])
    return stacked.cpu(), torch.cat(labels)


def _load_cached(path: Path, key: str, model: nn.Module) -> list[dict] | None:
    """Load a checkpoint if it exists and matches; warn and return None if corrupt or mismatched."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("key") != key:
            raise ValueError("its config key does not match this run's config")
        model.load_state_dict(ckpt["state_dict"], strict=True)
        return list(ckpt.get("history", []))
    except Exception as err:  # noqa: BLE001 - corrupt file, wrong keys, wrong shapes: retrain (warned)
        warnings.warn(
            f"Checkpoint {path} is unusable ({type(err).__name__}: {str(err)[:200]}); retraining and overwriting it.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _summary(epoch: int, num_epochs: int, record: dict) -> str:
    fmt = lambda accs: "/".join(f"{100 * a:.1f}" for a in accs)  # noqa: E731
    return (
        f"epoch {epoch}/{num_epochs}  loss {record['train_loss']:.4f}  train acc {fmt(record['train_acc'])}%"
        + (f"  val acc {fmt(record['val_acc'])}%" if record.get("val_acc") else "")
        + f"  ({record['seconds']:.1f}s)"
    )


def amp_modes(device: torch.device | str) -> tuple[str, ...]:
    """The `fit(amp=...)` modes that work on `device` ('bf16' needs a CPU or a CUDA GPU that supports it).

    Introduced in 00_orientation.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return AMP_MODES if torch.cuda.is_bf16_supported() else ("auto", "off", "fp16")
    if device.type == "cpu":
        return AMP_MODES
    if device.type == "mps":
        return ("auto", "off", "fp16")
    return ("auto", "off")


def amp_dtype(amp: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype of an AMP mode on `device`, or None for full precision.

    'auto' is fp16 on CUDA and off elsewhere; 'off', 'fp16' and 'bf16' say what they mean. Raises a
    ValueError for an unknown mode or one the device cannot run, naming the modes that work there.

    Introduced in 00_orientation.
    """
    device = torch.device(device)
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {amp!r}.")
    modes = amp_modes(device)
    if amp not in modes:
        raise ValueError(
            f"amp={amp!r} does not work on this {device.type} device; the modes that work here "
            f"are {modes}. (bf16 needs a CPU or a CUDA GPU with bf16 support, e.g. Ampere or newer; "
            f"use amp='fp16' or amp='off' otherwise.)"
        )
    if amp == "auto":
        return torch.float16 if device.type == "cuda" else None
    return {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}[amp]


def one_cycle_pct_start(total_steps: int) -> float:
    """OneCycleLR's warm-up fraction: 0.2, except where the warm-up would last exactly zero steps.

    OneCycleLR ends its warm-up at step pct_start * total_steps - 1 and divides by that length, so 0.2
    raises ZeroDivisionError at exactly 5 steps. There 1.5 / total_steps ends the warm-up half a step
    after the first one: the first step runs at the initial LR and the second near the peak, as with 6 steps.

    Introduced in 00_orientation.
    """
    if float(ONE_CYCLE_PCT_START * total_steps) - 1 == 0:
        return 1.5 / total_steps
    return ONE_CYCLE_PCT_START


def can_batch_on_device(loader: Any) -> bool:
    """True if `loader` is a plain DataLoader over an (X, y) TensorDataset, so `device_batches` can replace it.

    Plain: the default collate function, and a sequential sampler or a RandomSampler without replacement
    and without a custom sample count, batched by the standard BatchSampler.

    Introduced in 00_orientation.
    """
    if not isinstance(loader, DataLoader) or not isinstance(loader.dataset, TensorDataset):
        return False
    if len(loader.dataset.tensors) != 2 or loader.collate_fn is not default_collate:
        return False
    if type(loader.batch_sampler) is not BatchSampler or loader.batch_size is None:
        return False
    sampler = loader.sampler
    if type(sampler) is RandomSampler:
        return not sampler.replacement and sampler._num_samples is None
    return type(sampler) is SequentialSampler


class DeviceBatches:
    """`loader`'s batches cut from its dataset's tensors already on a device; every iteration is one epoch.

    It draws from the loader's generators exactly as iterating the loader does (a base seed when an
    iterator is made, the permutation at its first batch, an empty tail slice when the sampler runs dry),
    so it yields the loader's own batches, in the same order, with the same batch size and drop_last.

    Introduced in 00_orientation.
    """

    def __init__(self, loader: DataLoader, tensors: tuple[torch.Tensor, torch.Tensor]) -> None:
        if not can_batch_on_device(loader):
            raise ValueError(
                "device_batches needs a DataLoader over an (X, y) TensorDataset with the default "
                "sampler (or shuffle=True) and collate function; iterate other loaders directly."
            )
        X, y = tensors
        size = len(cast(Sized, loader.dataset))  # a TensorDataset, checked above
        if len(X) != size or len(y) != len(X):
            raise ValueError(
                f"tensors hold {len(X)} and {len(y)} samples, but the loader's dataset has "
                f"{size}; pass the dataset's own tensors (moved to a device)."
            )
        self.loader, self.X, self.y = loader, X, y

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # A DataLoader iterator draws a base seed for its workers from the loader's generator when it is made.
        torch.empty((), dtype=torch.int64).random_(generator=self.loader.generator)
        return self._epoch()

    def _epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        sampler, n = self.loader.sampler, len(self.X)
        generator = None
        if type(sampler) is RandomSampler:
            generator = sampler.generator
            if generator is None:  # a RandomSampler without a generator seeds a fresh one from the global RNG
                generator = torch.Generator().manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
            order = torch.randperm(n, generator=generator).to(self.X.device)
        else:
            order = torch.arange(n, device=self.X.device)
        batch_size = self.loader.batch_size
        assert batch_size is not None  # checked by can_batch_on_device
        stop = n - n % batch_size if self.loader.drop_last else n
        # A RandomSampler that runs dry draws one more (empty) slice of a permutation: while the BatchSampler
        # fills a last, partial batch, or else when asked for a batch after the last one.
        tail_pending = generator is not None
        for begin in range(0, stop, batch_size):
            index = order[begin : begin + batch_size]
            if tail_pending and begin + batch_size > n:
                torch.randperm(n, generator=generator)
                tail_pending = False
            yield self.X[index], self.y[index]
        if tail_pending:
            torch.randperm(n, generator=generator)


def device_batches(loader: DataLoader, tensors: tuple[torch.Tensor, torch.Tensor]) -> DeviceBatches:
    """An iterable of `loader`'s batches cut from `tensors` (its dataset's X and y, e.g. already on the GPU).

    Each pass is one epoch: the order comes from the loader's own generator (seeded, reproducible), batch
    size and drop_last are the loader's, every sample appears once, and the batches equal the loader's own.
    Needs `can_batch_on_device(loader)`.

    Introduced in 00_orientation.
    """
    return DeviceBatches(loader, tensors)


def slow_epoch_note(
    durations: Sequence[float], expected_epoch_s: float | None = None, device_type: str = "cpu"
) -> str | None:
    """A note when the last of `durations` (seconds per epoch so far) was slow, else None.

    Its expected time is `expected_epoch_s` when given; otherwise the median of the earlier epochs from the
    second on (the first includes the warm-up), or the first epoch alone when it is the only earlier one.
    Slow: at least SLOW_EPOCH_FACTOR times the expected time and SLOW_EPOCH_MIN_EXTRA_S seconds more, so
    the noise of short epochs never counts. The first epoch is judged only against `expected_epoch_s`.

    Introduced in 00_orientation.
    """
    if not durations:
        return None
    *earlier, last = (float(d) for d in durations)
    if expected_epoch_s is not None:
        expected, against = float(expected_epoch_s), f"the expected {float(expected_epoch_s):.1f} s"
    elif earlier:
        expected = statistics.median(earlier[1:] or earlier)
        against = f"the earlier epochs ({expected:.1f} s)"
    else:
        return None
    if expected <= 0 or last < SLOW_EPOCH_FACTOR * expected or last - expected < SLOW_EPOCH_MIN_EXTRA_S:
        return None
    shared = "the GPU or the CPU cores are" if device_type == "cuda" else "the CPU cores are"
    return (
        f"note: epoch {len(durations)} took {last:.1f} s, {last / expected:.1f}x {against}: {shared} probably "
        f"shared with another job; the run times this notebook states assume free cores."
    )


def _feeds_from_device(loader: Any, device: torch.device) -> bool:
    """Whether fit copies the loader's tensors to the device once and batches them there (CUDA only)."""
    return device.type == "cuda" and can_batch_on_device(loader)


def _make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float, fused: bool) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum 0.9) or AdamW on the trainable parameters; fused kernels if `fused` and available."""
    if name not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {name!r}.")
    params = [p for p in model.parameters() if p.requires_grad]

    def build(**extra: Any) -> torch.optim.Optimizer:
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay, **extra)
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **extra)

    if fused:
        # Fused kernels take GradScaler's inf check on the device, so an fp16 step needs no host sync.
        try:
            return build(fused=True)
        except (RuntimeError, TypeError, ValueError):  # an older torch, or parameters it cannot fuse
            pass
    return build()


def _checked_tensors(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The floating-point parameters and buffers (e.g. BatchNorm running statistics) the NaN guard checks."""
    named = itertools.chain(model.named_parameters(), model.named_buffers())
    return [(name, t) for name, t in named if t.is_floating_point()]


def _poisoned_error(desc: str, epoch: int, loss: float, bad: list[str], lr: float) -> RuntimeError:
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    tensors = f"non-finite tensors: {shown}" if bad else "every parameter and buffer is still finite"
    return RuntimeError(
        f"[{desc}] training went non-finite in epoch {epoch}: epoch loss {loss}; {tensors}. The weights are "
        f"poisoned (NaN/inf), so this model was not cached. Try fit(..., amp='off') (a half-precision overflow "
        f"or an fp16 draw of exactly 0), look for a log(0) or a division by zero in the loss, or lower the "
        f"learning rate (lr={lr})."
    )


def _forward_macs(model: nn.Module, loader: Any, device: torch.device) -> dict[str, Any]:
    """The model's forward MACs per image on one training-shaped input, or the error that stopped the count."""
    from course_lib.cost import module_macs

    try:
        shape = tuple(loader.dataset[0][0].shape)
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # a traced forward must not move the notebook's RNG
            return {"macs_per_image": module_macs(model, torch.zeros(1, *shape, device=device))}
    except Exception as err:  # noqa: BLE001 - record, never fail the fit over a log line
        return {"macs_per_image": None, "macs_error": f"{type(err).__name__}: {str(err)[:200]}"}


def _log_fit(record: dict[str, Any], model: nn.Module, loader: Any, device: torch.device) -> None:
    """Append one JSON line about this fit call to $COURSE_FIT_LOG, when it is set."""
    path = os.environ.get(FIT_LOG_ENV_VAR, "").strip()
    if not path:
        return
    from course_lib.env import current_stem

    line = dict(record, stem=current_stem(), model=type(model).__name__, **_forward_macs(model, loader, device))
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")
    except OSError as err:  # a log line never fails a training run (e.g. a read-only sandbox)
        warnings.warn(
            f"{FIT_LOG_ENV_VAR}={path} is not writable ({err.strerror}); this fit is not logged.",
            RuntimeWarning,
            stacklevel=3,
        )


def _dataset_size(loader: Any) -> int | None:
    dataset = getattr(loader, "dataset", None)
    return len(dataset) if dataset is not None else None


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    *,
    num_epochs: int,
    lr: float,
    loss_fn: LossFn | None = None,
    val_loader: DataLoader | None = None,
    optimizer: str = "sgd",
    weight_decay: float = 5e-4,
    augment: str | None = "shift",
    config: dict | None = None,
    device: torch.device | str | None = None,
    desc: str = "train",
    verbose: bool = True,
    amp: str = "auto",
    expected_epoch_s: float | None = None,
) -> list[dict]:
    """Train `model` in place and return one record per epoch run (loss, per-exit train/val accuracy).

    `loss_fn(output, y)` receives whatever the model returns (default: cross-entropy on a tensor).
    With `config`, the trained weights are cached under a hash of config and model shapes, and a
    later call with the same config loads them instead of training. `augment`: None, 'shift'
    (random translations) or 'shift_flip' (plus horizontal flips, for natural images).
    `amp`: 'auto' (fp16 autocast with a GradScaler on CUDA, off elsewhere), 'off', 'fp16', or 'bf16'
    (CPU, or a CUDA GPU that supports it); a mode other than 'auto' is part of the cache key.
    With `verbose`, the first epoch that takes several times its expected time (`expected_epoch_s`, else
    the earlier epochs of this call; see `slow_epoch_note`) gets one note saying the machine looks busy.

    The loss and accuracy are summed on the device and read once per epoch. Then, if the epoch's loss
    or any parameter or buffer is NaN/inf, a RuntimeError names the bad tensors and nothing is cached.
    On CUDA, a plain DataLoader over a TensorDataset is copied to the GPU once and batched there
    (same batches as the loader, see `device_batches`); other loaders, and every loader on the CPU,
    are iterated as they are.
    Environment: COURSE_TRAIN_CAP="EPOCHS:STEPS" (see `course_lib.env.train_cap`) caps every call at
    EPOCHS epochs of at most STEPS steps, for smoke tests, and enters the cache key. COURSE_FIT_LOG=<file>
    appends one JSON line per call (desc, config name, requested and run epochs and steps, steps per epoch,
    train size, batch size, model class, forward MACs per image, amp, device, seconds, cached) for time estimates.

    Introduced in 00_orientation.
    """
    from course_lib.env import TRAIN_CAP_ENV_VAR, get_device, train_cap

    began = time.perf_counter()
    device = torch.device(device) if device is not None else get_device(verbose=False)
    dtype = amp_dtype(amp, device)
    model.to(device)
    batches_per_epoch = len(train_loader)
    if batches_per_epoch == 0 and num_epochs > 0:
        raise ValueError(
            "train_loader yields no batches (an empty dataset, or drop_last with fewer samples than "
            "batch_size); give fit at least one batch."
        )
    cap = train_cap()
    epochs_run = num_epochs if cap is None else min(num_epochs, cap.epochs)
    steps_per_epoch = batches_per_epoch if cap is None else min(batches_per_epoch, cap.steps)
    if verbose and cap is not None and (epochs_run, steps_per_epoch) != (num_epochs, batches_per_epoch):
        print(
            f"[{desc}] {TRAIN_CAP_ENV_VAR}={cap}: capped at {epochs_run} epoch(s) of {steps_per_epoch} step(s) "
            f"(asked for {num_epochs} of {batches_per_epoch}); numbers from this run mean nothing"
        )
    log: dict[str, Any] = {
        "desc": desc,
        "config": (config or {}).get("name"),
        "num_epochs": num_epochs,
        "epochs_run": 0,
        "steps_run": 0,
        "steps_per_epoch": batches_per_epoch,
        "train_size": _dataset_size(train_loader),
        "batch_size": getattr(train_loader, "batch_size", None),
        "amp": amp,
        "device": str(device),
        "cap": None if cap is None else str(cap),
    }
    path = key = None
    if config is not None:
        full_config = dict(
            config,
            num_epochs=num_epochs,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            augment=augment,
            train_size=_dataset_size(train_loader),
        )
        if amp != "auto":  # keeps the keys of checkpoints cached before the switch existed
            full_config["amp"] = amp
        if cap is not None:  # a capped checkpoint must never be loaded by an uncapped run
            full_config["train_cap"] = str(cap)
        key = config_key(full_config, model)
        path = cache_dir() / f"{config.get('name', type(model).__name__)}-{key[:16]}.pt"
        cached = _load_cached(path, key, model)
        if cached is not None:
            if verbose:
                print(f"[{desc}] loaded cached weights from {path.name} (delete it to retrain)")
                if cached:
                    print(f"[{desc}] " + _summary(len(cached), len(cached), cached[-1]))
            _log_fit(dict(log, seconds=time.perf_counter() - began, cached=True), model, train_loader, device)
            return cached
    if loss_fn is None:
        loss_fn = lambda out, y: F.cross_entropy(out, y)  # noqa: E731
    use_scaler = dtype == torch.float16 and device.type == "cuda"
    opt = _make_optimizer(optimizer, model, lr, weight_decay, fused=use_scaler)
    total_steps = max(epochs_run * steps_per_epoch, 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total_steps, pct_start=one_cycle_pct_start(total_steps)
    )
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    batches: Any = train_loader
    if _feeds_from_device(train_loader, device):  # copied once per call, then batched on the device
        X_all, y_all = (t.to(device) for t in cast(TensorDataset, train_loader.dataset).tensors)
        batches = device_batches(train_loader, (X_all, y_all))
    sum_dtype = torch.float32 if device.type == "mps" else torch.float64  # float64: the sums of loss.item()
    history: list[dict] = []
    slow_noted = False
    for epoch in range(1, epochs_run + 1):
        model.train()
        start, seen = time.perf_counter(), 0
        loss_sum, hits_sum = torch.zeros((), dtype=sum_dtype, device=device), None
        # tqdm gets the loader itself (not an islice): that keeps today's draws from the loader's generator.
        bar = tqdm(batches, total=steps_per_epoch, desc=f"{desc} {epoch}/{epochs_run}", leave=False)
        for step, (X, y) in enumerate(bar, start=1):
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if augment:
                X = random_shift(X, flip=augment == "shift_flip")
            with torch.autocast(device_type=device.type, dtype=dtype or torch.float16, enabled=dtype is not None):
                output = model(X)
                loss = loss_fn(output, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            with torch.no_grad():
                hits = torch.stack([(logits.argmax(1) == y).sum() for logits in output_logits(output)])
                hits_sum = hits if hits_sum is None else hits_sum + hits
                loss_sum += loss.detach().to(sum_dtype) * len(y)
            seen += len(y)
            log["steps_run"] += 1
            if step == steps_per_epoch < batches_per_epoch:  # the COURSE_TRAIN_CAP step cap
                break  # (uncapped epochs run the loader to its end, so its generator advances as it always did)
        bar.close()
        assert hits_sum is not None  # at least one batch per epoch, checked above
        checked = _checked_tensors(model)
        finite = [torch.isfinite(t).all().to(device) for _, t in checked]
        # The epoch's one host sync: loss sum, per-exit hits and the finiteness of every checked tensor.
        packed = torch.cat(
            [
                loss_sum.view(1),
                hits_sum.to(sum_dtype),
                torch.stack(finite).to(sum_dtype) if finite else loss_sum.new_zeros(0),
            ]
        ).cpu()
        num_exits = len(hits_sum)
        train_loss = packed[0].item() / seen
        bad = [name for (name, _), ok in zip(checked, packed[1 + num_exits :].tolist(), strict=True) if not ok]
        if bad or not math.isfinite(train_loss):
            raise _poisoned_error(desc, epoch, train_loss, bad, lr)
        correct = packed[1 : 1 + num_exits].to(torch.int64)
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": (correct.float() / seen).tolist(),
            "val_acc": [],
        }
        if val_loader is not None:
            val_logits, val_y = collect_logits(model, val_loader, device)
            record["val_acc"] = (val_logits.argmax(-1) == val_y).float().mean(1).tolist()
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        log["epochs_run"] = epoch
        if verbose:
            tqdm.write(f"[{desc}] " + _summary(epoch, epochs_run, record))
            note = (
                None if slow_noted else slow_epoch_note([r["seconds"] for r in history], expected_epoch_s, device.type)
            )
            if note is not None:
                tqdm.write(f"[{desc}] {note}")
                slow_noted = True
    model.eval()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"key": key, "state_dict": model.state_dict(), "history": history}, tmp)
        os.replace(tmp, path)
    _log_fit(dict(log, seconds=time.perf_counter() - began, cached=False), model, train_loader, device)
    return history
