"""Execute one notebook with nbclient and print JSON: wall seconds and the kernel's peak memory.

Usage: python -m benchmarks.notebook_time NOTEBOOK [--timeout 1200]
Run in its own process so that RUSAGE_CHILDREN covers exactly this notebook's kernel.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--timeout", type=int, default=1200)
    args = parser.parse_args()
    import nbformat
    from nbclient import NotebookClient

    path = Path(args.notebook)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": "."}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as err:  # noqa: BLE001 - any failure of the notebook is reported in the table
        error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:300] if str(err).strip() else ''}"
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "notebook": path.stem,
                "seconds": round(seconds, 1),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "error": error,
            }
        )
    )
    sys.exit(1 if error else 0)


if __name__ == "__main__":
    main()
