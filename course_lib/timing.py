"""Wall-clock timing for speed comparisons: medians after a warm-up, contenders timed alternately."""
from __future__ import annotations

import statistics
import time
from typing import Callable

__all__ = ["median_times"]


def median_times(candidates: dict[str, Callable[[], object]], repeats: int = 7,
                 sync: Callable[[], object] | None = None) -> dict[str, float]:
    """Median wall-clock seconds of each candidate.

    Every candidate runs once as a warm-up; then `repeats` rounds run each candidate once, in turn, so
    that slow drift of a shared machine (other jobs, clock speed) hits all candidates alike. `sync`
    (e.g. torch.cuda.synchronize) is called after each run so that asynchronous GPU work is counted.
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
