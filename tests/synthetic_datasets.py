"""Synthetic CIFAR-10 and Fashion-MNIST files in torchvision's on-disk formats, for full-size smoke tests.

The images are learnable but meaningless: every class has a fixed low-frequency template (shared by the
train and test files), and each image is its class template shifted by a few pixels, with its own
brightness and Gaussian noise. Write them under `cl.data.data_root() / "downloads"` (that is
`$COURSE_DATA_DIR/downloads`) and load them with `COURSE_SKIP_CHECKSUM=1`, because the CIFAR-10 files
cannot match torchvision's md5 sums.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

__all__ = ["CIFAR10_CLASSES", "FASHION_MNIST_CLASSES", "class_templates", "write_cifar10", "write_fashion_mnist"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = 10
GRID = 4  # templates are a GRID x GRID pattern of random levels, smoothly upsampled
MAX_SHIFT = 3  # pixels, per image and axis
NOISE_STD = 40.0  # grey levels (0-255)
IDX_IMAGES_MAGIC = 0x0803  # idx3: unsigned bytes, three dimensions
IDX_LABELS_MAGIC = 0x0801  # idx1: unsigned bytes, one dimension


def class_templates(channels: int, size: int, seed: int) -> np.ndarray:
    """Ten smooth class templates, float64 (10, channels, size, size) with values in about [50, 205]."""
    rng = np.random.default_rng([seed, channels, size])
    coarse = rng.uniform(50.0, 205.0, size=(NUM_CLASSES, channels, GRID, GRID))
    # Bilinear upsampling of the coarse grid: smooth enough that a few pixels of shift keep the class.
    positions = np.linspace(0.0, GRID - 1.0, size)
    low = np.clip(np.floor(positions).astype(int), 0, GRID - 2)
    frac = positions - low
    rows = coarse[:, :, low, :] * (1 - frac)[:, None] + coarse[:, :, low + 1, :] * frac[:, None]
    return rows[..., low] * (1 - frac) + rows[..., low + 1] * frac


def _draw_images(templates: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 images (n, C, H, W) drawn from the templates, and their balanced, shuffled uint8 labels."""
    labels = rng.permutation(np.arange(n) % NUM_CLASSES).astype(np.uint8)
    images = np.empty((n, *templates.shape[1:]), dtype=np.uint8)
    for i, label in enumerate(labels):
        dy, dx = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=2)
        shifted = np.roll(templates[label], (int(dy), int(dx)), axis=(-2, -1))
        brightness = rng.uniform(0.75, 1.25)
        noisy = shifted * brightness + rng.normal(0.0, NOISE_STD, size=shifted.shape)
        images[i] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return images, labels


def _check_sizes(n_train: int, n_test: int) -> None:
    if n_train < NUM_CLASSES or n_test < NUM_CLASSES:
        raise ValueError(
            f"n_train and n_test must be at least {NUM_CLASSES} (one image per class), got {n_train} and {n_test}."
        )


def _write_pickle(path: Path, entry: dict) -> None:
    with path.open("wb") as handle:
        pickle.dump(entry, handle, protocol=2)


def write_cifar10(root: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Write `root/cifar-10-batches-py/` (data_batch_1..5, test_batch, batches.meta); return that folder.

    Each batch is a pickled dict as in the real archive: "data" uint8 (N, 3072) rows (1,024 red, then
    green, then blue values of a 32x32 image) and "labels" (list of int), readable by torchvision's
    CIFAR10. The same arrays are also stored under the bytes keys b"data" and b"labels", so readers that
    unpickle with encoding="bytes" (the dataset page's recipe) find them too.
    """
    _check_sizes(n_train, n_test)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    templates = class_templates(3, 32, seed)
    train_images, train_labels = _draw_images(templates, n_train, np.random.default_rng([seed, 1]))
    test_images, test_labels = _draw_images(templates, n_test, np.random.default_rng([seed, 2]))

    def batch(images: np.ndarray, labels: np.ndarray, name: str) -> dict:
        rows = np.ascontiguousarray(images.reshape(len(images), -1))
        label_list = [int(v) for v in labels]
        return {
            "batch_label": name,
            "data": rows,
            "labels": label_list,
            "filenames": [f"synthetic_{i:05d}.png" for i in range(len(labels))],
            b"data": rows,
            b"labels": label_list,
        }

    parts = np.array_split(np.arange(n_train), 5)
    for number, idx in enumerate(parts, start=1):
        _write_pickle(
            folder / f"data_batch_{number}",
            batch(train_images[idx], train_labels[idx], f"synthetic training batch {number} of 5"),
        )
    _write_pickle(folder / "test_batch", batch(test_images, test_labels, "synthetic testing batch 1 of 1"))
    _write_pickle(
        folder / "batches.meta",
        {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": len(parts[0]), "num_vis": 3 * 32 * 32},
    )
    return folder


def _write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    """An idx file: big-endian int32 magic and dimension sizes, then the uint8 values."""
    header = struct.pack(">i", magic) + b"".join(struct.pack(">i", dim) for dim in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_fashion_mnist(root: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Write `root/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`; return the raw folder."""
    _check_sizes(n_train, n_test)
    folder = Path(root) / "FashionMNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    templates = class_templates(1, 28, seed)
    for prefix, n, stream in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = _draw_images(templates, n, np.random.default_rng([seed, stream]))
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", IDX_IMAGES_MAGIC, images[:, 0])
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", IDX_LABELS_MAGIC, labels)
    return folder
