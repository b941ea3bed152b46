"""Device, seeds, the run-size switch and the notebook setup banner."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "SIZE_ENV_VAR",
    "TRAIN_CAP_ENV_VAR",
    "TrainCap",
    "train_cap",
    "uncapped",
    "get_device",
    "set_seed",
    "run_size",
    "pick",
    "setup_notebook",
    "CourseSetupError",
    "VersionMismatchError",
    "install_command",
    "current_stem",
]

SIZE_ENV_VAR = "COURSE_SIZE"
TRAIN_CAP_ENV_VAR = "COURSE_TRAIN_CAP"
_SIZES = ("small", "full")
_printed_device = False
_current_stem: str | None = None
T = TypeVar("T")


class CourseSetupError(RuntimeError):
    """A setup problem with a message meant for a person: IPython and Colab show the message, not a traceback.

    Introduced in 00_orientation.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


class VersionMismatchError(CourseSetupError):
    """The installed course_lib is not the version the notebook was written for.

    Introduced in 00_orientation.
    """


def get_device(verbose: bool = True) -> torch.device:
    """Return cuda, then mps, then cpu; print the choice once per process.

    Introduced in 00_orientation.
    """
    global _printed_device
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose and not _printed_device:
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu"
        print(f"Using device: {device} ({name})")
        _printed_device = True
    return device


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch; `deterministic=True` also asks torch for deterministic kernels.

    Introduced in 00_orientation.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def run_size() -> str:
    """The run size from the COURSE_SIZE environment variable: 'small' (default) or 'full'.

    Introduced in 00_orientation.
    """
    size = os.environ.get(SIZE_ENV_VAR, "small").strip().lower() or "small"
    if size not in _SIZES:
        raise ValueError(
            f"{SIZE_ENV_VAR}={size!r} is not a run size; use one of {_SIZES} "
            f"(small: embedded data on a CPU, full: torchvision data on a GPU)."
        )
    return size


@dataclass(frozen=True)
class TrainCap:
    """A cap on every `fit` call for smoke tests: at most `epochs` epochs of at most `steps` optimiser steps.

    Introduced in 00_orientation.
    """

    epochs: int
    steps: int

    def __str__(self) -> str:
        return f"{self.epochs}:{self.steps}"


def train_cap() -> TrainCap | None:
    """The smoke-test cap from COURSE_TRAIN_CAP ("EPOCHS:STEPS", e.g. "1:3"), or None when unset.

    Used by the full-size smoke test to run every notebook at full-size shapes in minutes on a CPU; the
    numbers such a run prints are meaningless. `fit` applies it and keys its checkpoint cache on it.

    Introduced in 00_orientation.
    """
    raw = os.environ.get(TRAIN_CAP_ENV_VAR, "").strip()
    if not raw:
        return None
    parts = raw.split(":")
    try:
        epochs, steps = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (int(parts[0]), 0)
    except ValueError:
        epochs = steps = -1
    if len(parts) > 2 or epochs < 1 or steps < 0 or (len(parts) == 2 and steps < 1):
        raise ValueError(
            f"{TRAIN_CAP_ENV_VAR}={raw!r} is not a cap; use 'EPOCHS:STEPS' with positive integers "
            f"(e.g. '1:3': one epoch of at most three steps per fit call), or unset it."
        )
    return TrainCap(epochs=epochs, steps=steps or 10**9)


@contextmanager
def uncapped() -> Iterator[None]:
    """Lift COURSE_TRAIN_CAP inside the block: hidden tests train their tiny models in full, cap or not.

    Introduced in 00_orientation.
    """
    saved = os.environ.pop(TRAIN_CAP_ENV_VAR, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[TRAIN_CAP_ENV_VAR] = saved


def pick(small: T, full: T) -> T:
    """Return `small` or `full` according to the run size (the one place notebooks branch on it).

    Introduced in 00_orientation.
    """
    return small if run_size() == "small" else full


@dataclass(frozen=True)
class NotebookInfo:
    """What `setup_notebook` found, for notebooks that want to print or branch on it."""

    stem: str
    size: str
    device: torch.device
    versions: dict


def current_stem() -> str | None:
    """The notebook stem given to the last `setup_notebook` call in this process (None before any).

    Introduced in 00_orientation.
    """
    return _current_stem


def install_command(source: str | None = None) -> str:
    """The notebook command that reinstalls the course package from `source` (default: where this one came from).

    Introduced in 00_orientation.
    """
    from course_lib import release_info

    source = os.environ.get("COURSE_INSTALL") or source or release_info.INSTALL_SPEC
    return f'%pip install --no-deps --force-reinstall "{source}"'


def setup_notebook(stem: str, expected_version: str | None = None, source: str | None = None) -> NotebookInfo:
    """Check the library version, then print device, run size and versions (the setup cell's work).

    `source` is the notebook's install source, used in the advice when the installed version differs.

    Introduced in 00_orientation.
    """
    import course_lib

    global _current_stem
    _current_stem = stem
    if expected_version is not None and course_lib.__version__ != expected_version:
        raise VersionMismatchError(
            f"this notebook was written for course_lib {expected_version}, but {course_lib.__version__} is "
            f"installed.\nReinstall it: run this in a new cell, then restart the runtime (Colab: Runtime > Restart session) and "
            f"run the setup cell again:\n    {install_command(source)}"
        )
    import matplotlib
    import sklearn

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "course_lib": course_lib.__version__,
    }
    device = get_device(verbose=False)
    size = run_size()
    print(
        f"[{stem}] run size: {size} (for the full size on a GPU runtime, run `%env {SIZE_ENV_VAR}=full` in a "
        f"cell above the setup cell)"
    )
    print(f"[{stem}] device: {device}" + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""))
    print(f"[{stem}] versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if size == "full" and device.type == "cpu":
        print(
            f"[{stem}] WARNING: {SIZE_ENV_VAR}=full on a CPU means hours of training. Use a GPU runtime (Colab: "
            f"Runtime > Change runtime type > T4 GPU), or unset {SIZE_ENV_VAR} for the small size."
        )
    return NotebookInfo(stem=stem, size=size, device=device, versions=versions)
