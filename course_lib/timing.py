"""Wall-clock timing for speed comparisons: medians after a warm-up, contenders timed alternately."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

__all__ = ["median_times", "device_sync", "describe_device"]


def median_times(
    candidates: dict[str, Callable[[], object]], repeats: int = 7, sync: Callable[[], object] | None = None
) -> dict[str, float]:
    """Median wall-clock seconds of each candidate.

    Every candidate runs once as a warm-up; then `repeats` rounds run each candidate once, in turn, so
    that slow drift of a shared machine (other jobs, clock speed) hits all candidates alike. `sync`
    (e.g. torch.cuda.synchronize, or `device_sync(device)`) is called after each run so that
    asynchronous GPU work is counted.

    Introduced in 03_early_exit.
    """
    if not candidates:
        raise ValueError("median_times needs at least one candidate, e.g. {'full': run_full}.")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}.")
    done = sync or (lambda: None)
    for fn in candidates.values():
        fn()
        done()
    runs: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            done()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in runs.items()}


def _as_device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch.device or a name such as 'cpu' or 'cuda', got {device!r}.") from err


def device_sync(device: torch.device | str | None) -> Callable[[], None]:
    """A function that waits until all work queued on `device` has finished; a no-op on the CPU.

    GPU kernels run asynchronously: without a synchronisation a timer stops when the work is queued,
    not when it is done. Pass the result as `median_times(..., sync=device_sync(device))`.

    Introduced in 03_early_exit.
    """
    dev = _as_device(device)
    if dev.type == "cuda":

        def cuda_sync() -> None:
            torch.cuda.synchronize(dev)

        return cuda_sync
    if dev.type == "mps":

        def mps_sync() -> None:
            torch.mps.synchronize()

        return mps_sync

    def no_sync() -> None:
        return None

    return no_sync


def describe_device(device: torch.device | str | None) -> str:
    """A short name of the device a timing ran on, for captions: 'GPU (Tesla T4)', 'CPU (2 threads)'.

    Introduced in 04_layer_skipping.
    """
    dev = _as_device(device)
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"GPU ({torch.cuda.get_device_name(index)})"
    if dev.type == "mps":
        return "Apple GPU (mps)"
    if dev.type == "cpu":
        threads = torch.get_num_threads()
        return f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    return str(dev)
