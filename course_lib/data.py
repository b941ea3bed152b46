"""Datasets: the embedded MNIST subset (offline default) and torchvision datasets, with fixed splits."""

from __future__ import annotations

import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

__all__ = [
    "DATASETS",
    "Splits",
    "DatasetUnavailableError",
    "SKIP_CHECKSUM_ENV_VAR",
    "skip_checksum",
    "validation_size",
    "data_root",
    "load_embedded_arrays",
    "load_dataset",
    "make_loaders",
]

DATASETS = ("embedded", "mnist", "fashion_mnist", "cifar10")
EMBEDDED_FILE = "mnist5k.npz"
# Split sizes of the embedded 5,000 digits (stratified: 350/50/100 per class).
EMBEDDED_SPLIT = (3500, 500, 1000)
# Validation images taken out of each torchvision training set (at most a tenth of it, see validation_size).
TORCHVISION_VAL = 5000
SPLIT_SEED = 2024
SKIP_CHECKSUM_ENV_VAR = "COURSE_SKIP_CHECKSUM"
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")
# The raw idx files torchvision's MNIST and FashionMNIST read, with their number of dimensions.
_IDX_FILES = {
    "train-images-idx3-ubyte": 3,
    "train-labels-idx1-ubyte": 1,
    "t10k-images-idx3-ubyte": 3,
    "t10k-labels-idx1-ubyte": 1,
}


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be loaded (no internet, no cache); the message says what to do.

    Introduced in 00_orientation.
    """


@dataclass
class Splits:
    """Fixed train/val/test tensors of one dataset: images float32 in [0, 1], labels int64.

    Introduced in 00_orientation.
    """

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
        return (
            f"{self.name}: train {len(self.y_train)}, val {len(self.y_val)}, test {len(self.y_test)}, "
            f"image shape {self.input_shape}, {self.num_classes} classes"
        )


def data_root() -> Path:
    """Where downloads and caches go: $COURSE_DATA_DIR, else the repo's data/, else ~/.cache.

    Introduced in 00_orientation.
    """
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
            f"course package (pip install -e . from the repository root)."
        )
    return path


def load_embedded_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 embedded MNIST digits as uint8 images (5000, 28, 28) and uint8 labels (5000,).

    Introduced in 00_orientation.
    """
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
        parts[1].append(idx[bounds[0] : bounds[1]])
        parts[2].append(idx[bounds[1] : bounds[2]])
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
    return Splits("embedded", X[train], y[train], X[val], y[val], X[test], y[test], tuple(str(i) for i in range(10)))


def skip_checksum() -> bool:
    """True when COURSE_SKIP_CHECKSUM=1: load present CIFAR-10 files without torchvision's md5 check.

    Introduced in 00_orientation.
    """
    raw = os.environ.get(SKIP_CHECKSUM_ENV_VAR, "").strip().lower()
    if raw not in _TRUE + _FALSE:
        raise ValueError(
            f"{SKIP_CHECKSUM_ENV_VAR}={raw!r} is not understood; set it to 1 to load present "
            f"dataset files without torchvision's checksum, or unset it."
        )
    return raw in _TRUE


def validation_size(num_train_images: int) -> int:
    """Validation images taken out of a torchvision training set: 5,000, or a tenth of a smaller set.

    Introduced in 00_orientation.
    """
    return min(TORCHVISION_VAL, num_train_images // 10)


def _corrupt_error(name: str, folder: Path, bad: list[str], reason: str, advice: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"The {name!r} files in {folder} are present but {reason}: {', '.join(bad)}. Delete them (or the whole "
        f"folder) to re-download them (needs internet once){advice}. Offline, use the embedded default: "
        f"load_dataset('embedded'), or set COURSE_SIZE=small."
    )


def _check_cifar_files(cls: Any, root: Path) -> bool:
    """Raise if CIFAR-10 files are present but fail torchvision's md5 checksum; True if all are present and pass.

    Missing files are left to torchvision, which downloads them (or fails offline with the download advice).
    """
    from torchvision.datasets.utils import check_integrity

    folder = root / cls.base_folder
    expected = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    present = [(file, md5) for file, md5 in expected if (folder / file).exists()]
    bad = [file for file, md5 in present if not check_integrity(str(folder / file), md5)]
    if bad:
        raise _corrupt_error(
            "cifar10",
            folder,
            bad,
            "fail torchvision's md5 checksum",
            f", or, for synthetic or re-packed files made on purpose, set "
            f"{SKIP_CHECKSUM_ENV_VAR}=1 to load them without the checksum",
        )
    return len(present) == len(expected)


def _idx_problem(path: Path, ndim: int) -> str | None:
    """Why `path` is not a uint8 idx file with `ndim` dimensions (header, then the values), or None."""
    header_size = 4 + 4 * ndim
    with path.open("rb") as handle:
        header = handle.read(header_size)
    if len(header) < header_size or header[:3] != b"\x00\x00\x08" or header[3] != ndim:
        return "bad header"
    values = int(np.prod(struct.unpack(f">{ndim}i", header[4:])))
    if path.stat().st_size != header_size + values:
        return "length does not match the header"
    return None


def _check_idx_files(name: str, folder: Path) -> None:
    """Raise if (Fashion-)MNIST raw files are present but are not valid idx files (missing ones are left to it)."""
    bad = [
        f"{file} ({problem})"
        for file, ndim in _IDX_FILES.items()
        if (folder / file).exists() and (problem := _idx_problem(folder / file, ndim))
    ]
    if bad:
        raise _corrupt_error(name, folder, bad, "are not valid idx files", "")


def _without_checksum(cls: Any) -> Any:
    """A CIFAR10 subclass that loads present files without hashing them (checked already, or COURSE_SKIP_CHECKSUM=1).

    It overrides torchvision's integrity checks only (no global patch); missing files still mean a download.
    """

    class UncheckedCIFAR10(cls):
        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / file).is_file() for file, _ in [*self.train_list, *self.test_list])

        def _load_meta(self) -> None:
            with (Path(self.root) / self.base_folder / self.meta["filename"]).open("rb") as handle:
                self.classes = pickle.load(handle, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {label: i for i, label in enumerate(self.classes)}

    return UncheckedCIFAR10


def _load_torchvision(name: str, download: bool) -> Splits:
    try:
        import torchvision.datasets as tvd
    except Exception as err:  # torchvision missing or built for another torch
        raise DatasetUnavailableError(
            f"Loading {name!r} needs torchvision, which failed to import ({err}). Use the embedded "
            f"default: load_dataset('embedded')."
        ) from err
    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    root = data_root() / "downloads"
    # Check present files first, so a corrupt copy gets its own message at once rather than a download attempt.
    if name == "cifar10":
        # Files that passed the md5 check here (or that COURSE_SKIP_CHECKSUM=1 accepts) are not hashed again.
        if skip_checksum() or _check_cifar_files(cls, root):
            cls = _without_checksum(cls)
    else:
        # (Fashion-)MNIST is never subclassed: torchvision names its folder after the class.
        _check_idx_files(name, root / cls.__name__ / "raw")
    try:
        train_set = cls(str(root), train=True, download=download)
        test_set = cls(str(root), train=False, download=download)
    except Exception as err:
        raise DatasetUnavailableError(
            f"Could not load {name!r} from {root} ({type(err).__name__}: {err}). It needs a one-time "
            f"download (internet access) into that folder. Offline, use the embedded default: "
            f"load_dataset('embedded'), or set COURSE_SIZE=small."
        ) from err
    X_all = _to_tensor(np.asarray(train_set.data))
    y_all = torch.as_tensor(np.asarray(train_set.targets), dtype=torch.int64)
    perm = torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(len(y_all)))
    num_val = validation_size(len(y_all))
    val_idx, train_idx = perm[:num_val].sort().values, perm[num_val:].sort().values
    X_test = _to_tensor(np.asarray(test_set.data))
    y_test = torch.as_tensor(np.asarray(test_set.targets), dtype=torch.int64)
    return Splits(
        name,
        X_all[train_idx],
        y_all[train_idx],
        X_all[val_idx],
        y_all[val_idx],
        X_test,
        y_test,
        tuple(str(c) for c in train_set.classes),
    )


def load_dataset(name: str = "embedded", download: bool = True) -> Splits:
    """Load a dataset with its fixed, seeded train/val/test split (val for tuning, test reported once).

    Introduced in 00_orientation.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {DATASETS} ('embedded' works offline).")
    if name == "embedded":
        return _load_embedded()
    return _load_torchvision(name, download)


def make_loaders(
    splits: Splits, batch_size: int = 128, eval_batch_size: int = 512, seed: int = 0
) -> dict[str, DataLoader]:
    """DataLoaders for the three splits: shuffled (seeded) for train, ordered for val and test.

    Introduced in 00_orientation.
    """
    generator = torch.Generator().manual_seed(seed)
    return {
        "train": DataLoader(
            TensorDataset(splits.X_train, splits.y_train), batch_size=batch_size, shuffle=True, generator=generator
        ),
        "val": DataLoader(TensorDataset(splits.X_val, splits.y_val), batch_size=eval_batch_size),
        "test": DataLoader(TensorDataset(splits.X_test, splits.y_test), batch_size=eval_batch_size),
    }
