"""Training loop with progress bars, per-epoch summaries, AMP on CUDA and a checkpoint cache."""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

__all__ = [
    "LossFn",
    "cache_dir",
    "config_key",
    "output_logits",
    "random_shift",
    "collect_logits",
    "fit",
]

LossFn = Callable[[Any, torch.Tensor], torch.Tensor]


def cache_dir() -> Path:
    """Checkpoint cache folder: $COURSE_CACHE_DIR, else <data root>/cache/checkpoints."""
    from course_lib.data import data_root

    env = os.environ.get("COURSE_CACHE_DIR")
    return Path(env) if env else data_root() / "cache" / "checkpoints"


def config_key(config: dict, model: nn.Module) -> str:
    """A hash of the training config plus the model's class and parameter shapes."""
    shapes = {name: list(p.shape) for name, p in model.state_dict().items()}
    blob = json.dumps({"config": config, "model": type(model).__name__, "shapes": shapes},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def output_logits(output: Any) -> list[torch.Tensor]:
    """The logits in a model output: a tensor, a list of exit logits, or the first item of a tuple."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, list):
        return list(output)
    if isinstance(output, tuple) and output:
        return output_logits(output[0])
    raise TypeError(f"cannot find logits in a model output of type {type(output).__name__}.")


def random_shift(X: torch.Tensor, max_shift: int = 2, flip: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift every image by its own random offset of up to max_shift pixels (zero padding); optional h-flip."""
    n, _, height, width = X.shape
    padded = F.pad(X, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(X.device)
    rows = offsets[0][:, None] + torch.arange(height, device=X.device)
    cols = offsets[1][:, None] + torch.arange(width, device=X.device)
    out = padded[torch.arange(n, device=X.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    # Copy into a fresh tensor with standard strides: a permuted view with a size-1 channel axis keeps odd
    # strides through .contiguous(), which crashed CPU conv backward in torch 2.15.
    out = torch.empty(X.shape, dtype=X.dtype, device=X.device).copy_(out.permute(0, 3, 1, 2))
    if flip:
        mask = torch.rand(n, generator=generator).to(X.device) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out


@torch.no_grad()
def collect_logits(model: nn.Module, loader: DataLoader, device: torch.device | str | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode logits of every exit on a loader: (num_exits, N, C) on the CPU, and labels (N,)."""
    from course_lib.env import get_device

    device = torch.device(device) if device is not None else get_device(verbose=False)
    was_training = model.training
    model.eval().to(device)
    chunks: list[list[torch.Tensor]] = []
    labels = []
    for X, y in loader:
        exits = output_logits(model(X.to(device)))
        chunks.append([e.float().cpu() for e in exits])
        labels.append(y)
    model.train(was_training)
    stacked = torch.stack([torch.cat([c[k] for c in chunks]) for k in range(len(chunks[0]))])
    return stacked, torch.cat(labels)


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
    except Exception as err:  # corrupt file, wrong keys, wrong shapes
        warnings.warn(f"Checkpoint {path} is unusable ({type(err).__name__}: {str(err)[:200]}); "
                      f"retraining and overwriting it.", RuntimeWarning, stacklevel=3)
        return None


def _summary(epoch: int, num_epochs: int, record: dict) -> str:
    fmt = lambda accs: "/".join(f"{100 * a:.1f}" for a in accs)  # noqa: E731
    return (f"epoch {epoch}/{num_epochs}  loss {record['train_loss']:.4f}  train acc {fmt(record['train_acc'])}%"
            + (f"  val acc {fmt(record['val_acc'])}%" if record.get("val_acc") else "")
            + f"  ({record['seconds']:.1f}s)")


def fit(model: nn.Module, train_loader: DataLoader, *, num_epochs: int, lr: float,
        loss_fn: LossFn | None = None, val_loader: DataLoader | None = None, optimizer: str = "sgd",
        weight_decay: float = 5e-4, augment: str | None = "shift", config: dict | None = None,
        device: torch.device | str | None = None, desc: str = "train", verbose: bool = True) -> list[dict]:
    """Train `model` in place and return one record per epoch (loss, per-exit train/val accuracy).

    `loss_fn(output, y)` receives whatever the model returns (default: cross-entropy on a tensor).
    With `config`, the trained weights are cached under a hash of config and model shapes, and a
    later call with the same config loads them instead of training. `augment`: None, 'shift'
    (random translations) or 'shift_flip' (plus horizontal flips, for natural images).
    """
    from course_lib.env import get_device

    device = torch.device(device) if device is not None else get_device(verbose=False)
    model.to(device)
    path = key = None
    if config is not None:
        full_config = dict(config, num_epochs=num_epochs, lr=lr, optimizer=optimizer,
                           weight_decay=weight_decay, augment=augment, train_size=len(train_loader.dataset))
        key = config_key(full_config, model)
        path = cache_dir() / f"{config.get('name', type(model).__name__)}-{key[:16]}.pt"
        history = _load_cached(path, key, model)
        if history is not None:
            if verbose:
                print(f"[{desc}] loaded cached weights from {path.name} (delete it to retrain)")
                if history:
                    print(f"[{desc}] " + _summary(len(history), num_epochs, history[-1]))
            return history
    if loss_fn is None:
        loss_fn = lambda out, y: F.cross_entropy(out, y)  # noqa: E731
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True,
                                                     weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    steps = num_epochs * len(train_loader)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.2)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict] = []
    for epoch in range(1, num_epochs + 1):
        model.train()
        start, total_loss, seen, correct = time.perf_counter(), 0.0, 0, None
        bar = tqdm(train_loader, desc=f"{desc} {epoch}/{num_epochs}", leave=False)
        for X, y in bar:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if augment:
                X = random_shift(X, flip=augment == "shift_flip")
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                output = model(X)
                loss = loss_fn(output, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            logits = output_logits(output)
            hits = torch.stack([(l.argmax(1) == y).sum() for l in logits]).cpu()
            correct = hits if correct is None else correct + hits
            total_loss += loss.item() * len(y)
            seen += len(y)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        record = {"epoch": epoch, "train_loss": total_loss / seen,
                  "train_acc": (correct.float() / seen).tolist(), "val_acc": []}
        if val_loader is not None:
            val_logits, val_y = collect_logits(model, val_loader, device)
            record["val_acc"] = (val_logits.argmax(-1) == val_y).float().mean(1).tolist()
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        if verbose:
            tqdm.write(f"[{desc}] " + _summary(epoch, num_epochs, record))
    model.eval()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"key": key, "state_dict": model.state_dict(), "history": history}, tmp)
        os.replace(tmp, path)
    return history
