"""Datasets: the embedded MNIST subset (offline default) and torchvision datasets, with fixed splits."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

__all__ = [
    "DATASETS",
    "Splits",
    "DatasetUnavailableError",
    "data_root",
    "load_embedded_arrays",
    "load_dataset",
    "make_loaders",
]

DATASETS = ("embedded", "mnist", "fashion_mnist", "cifar10")
EMBEDDED_FILE = "mnist5k.npz"
# Split sizes of the embedded 5,000 digits (stratified: 350/50/100 per class).
EMBEDDED_SPLIT = (3500, 500, 1000)
# Validation images taken out of each torchvision training set.
TORCHVISION_VAL = 5000
SPLIT_SEED = 2024


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be loaded (no internet, no cache); the message says what to do."""


@dataclass
class Splits:
    """Fixed train/val/test tensors of one dataset: images float32 in [0, 1], labels int64."""

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.X_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def summary(self) -> str:
        return (f"{self.name}: train {len(self.y_train)}, val {len(self.y_val)}, test {len(self.y_test)}, "
                f"image shape {self.input_shape}, {self.num_classes} classes")


def data_root() -> Path:
    """Where downloads and caches go: $COURSE_DATA_DIR, else the repo's data/, else ~/.cache."""
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return Path(env)
    repo_data = Path(__file__).resolve().parent.parent / "data"
    if (repo_data / "README.md").exists():
        return repo_data
    return Path.home() / ".cache" / "dynamic-inference-course"


def _embedded_path() -> Path:
    from importlib import resources

    try:
        path = Path(str(resources.files("course_data") / EMBEDDED_FILE))
        if path.exists():
            return path
    except ModuleNotFoundError:
        pass
    path = Path(__file__).resolve().parent.parent / "data" / EMBEDDED_FILE
    if not path.exists():
        raise DatasetUnavailableError(
            f"The embedded dataset file {EMBEDDED_FILE} is missing from this install. Reinstall the "
            f"course package (pip install -e . from the repository root).")
    return path


def load_embedded_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 embedded MNIST digits as uint8 images (5000, 28, 28) and uint8 labels (5000,)."""
    with np.load(_embedded_path()) as archive:
        return archive["X"], archive["y"]


def _stratified_split(y: np.ndarray, sizes: tuple[int, int, int], seed: int) -> tuple[np.ndarray, ...]:
    """Split indices into three parts with equal class shares, reproducibly."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in classes:
        idx = rng.permutation(np.flatnonzero(y == c))
        share = [s // len(classes) for s in sizes]
        bounds = np.cumsum(share)
        parts[0].append(idx[: bounds[0]])
        parts[1].append(idx[bounds[0]: bounds[1]])
        parts[2].append(idx[bounds[1]: bounds[2]])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    X = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    if X.ndim == 3:
        X = X.unsqueeze(1)
    elif X.ndim == 4 and X.shape[-1] in (1, 3):
        X = X.permute(0, 3, 1, 2).contiguous()
    return X


def _load_embedded() -> Splits:
    images, labels = load_embedded_arrays()
    train, val, test = _stratified_split(labels, EMBEDDED_SPLIT, SPLIT_SEED)
    X, y = _to_tensor(images), torch.from_numpy(labels.astype(np.int64))
    return Splits("embedded", X[train], y[train], X[val], y[val], X[test], y[test],
                  tuple(str(i) for i in range(10)))


def _load_torchvision(name: str, download: bool) -> Splits:
    try:
        import torchvision.datasets as tvd
    except Exception as err:  # torchvision missing or built for another torch
        raise DatasetUnavailableError(
            f"Loading {name!r} needs torchvision, which failed to import ({err}). Use the embedded "
            f"default: load_dataset('embedded').") from err
    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    root = data_root() / "downloads"
    try:
        train_set = cls(str(root), train=True, download=download)
        test_set = cls(str(root), train=False, download=download)
    except Exception as err:
        raise DatasetUnavailableError(
            f"Could not load {name!r} from {root} ({type(err).__name__}: {err}). It needs a one-time "
            f"download (internet access) into that folder. Offline, use the embedded default: "
            f"load_dataset('embedded'), or set COURSE_SIZE=small.") from err
    X_all = _to_tensor(np.asarray(train_set.data))
    y_all = torch.as_tensor(np.asarray(train_set.targets), dtype=torch.int64)
    perm = torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(len(y_all)))
    val_idx, train_idx = perm[:TORCHVISION_VAL].sort().values, perm[TORCHVISION_VAL:].sort().values
    X_test = _to_tensor(np.asarray(test_set.data))
    y_test = torch.as_tensor(np.asarray(test_set.targets), dtype=torch.int64)
    return Splits(name, X_all[train_idx], y_all[train_idx], X_all[val_idx], y_all[val_idx], X_test, y_test,
                  tuple(str(c) for c in train_set.classes))


def load_dataset(name: str = "embedded", download: bool = True) -> Splits:
    """Load a dataset with its fixed, seeded train/val/test split (val for tuning, test reported once)."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {DATASETS} ('embedded' works offline).")
    if name == "embedded":
        return _load_embedded()
    return _load_torchvision(name, download)


def make_loaders(splits: Splits, batch_size: int = 128, eval_batch_size: int = 512,
                 seed: int = 0) -> dict[str, DataLoader]:
    """DataLoaders for the three splits: shuffled (seeded) for train, ordered for val and test."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "train": DataLoader(TensorDataset(splits.X_train, splits.y_train), batch_size=batch_size,
                            shuffle=True, generator=generator),
        "val": DataLoader(TensorDataset(splits.X_val, splits.y_val), batch_size=eval_batch_size),
        "test": DataLoader(TensorDataset(splits.X_test, splits.y_test), batch_size=eval_batch_size),
    }
