"""Execute solution notebooks and store what they measured: docs/results/<stem>.json.

Usage (repository root, venv active):
    python -m benchmarks.notebook_results                      # every notebook: a first run, then a re-run
    python -m benchmarks.notebook_results --stems 03_early_exit
    python -m benchmarks.notebook_results --rerun-only         # keep the stored first-run seconds

Each notebook runs twice in a fresh kernel: with an empty checkpoint cache (the first run a student has: it trains)
and again with the cache that run filled (the re-run). The stored file holds the results the notebook printed with
`course_lib.results.report`, both wall times, and the machine, Python and torch they were measured with. The
quality gate then checks every annotated number in the text against it (autograder/tools/claims.py), the test
suite checks a fresh execution against it, and `python -m autograder release` turns the seconds into the run-time
phrases of the notebook headers and the README and self-study tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from autograder.tools import claims
from autograder.tools.execute import execute_notebook
from autograder.tools.release import ROOT, solution_stems


def _machine() -> dict:
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average": round(os.getloadavg()[0], 2),
    }


def _run(stem: str, cache: Path, out: Path) -> tuple[float, dict]:
    """Execute solutions/<stem>.ipynb with checkpoint cache `cache`; (seconds, printed results). Raises on a failure."""
    import nbformat

    previous = os.environ.get("COURSE_CACHE_DIR")
    os.environ["COURSE_CACHE_DIR"] = str(cache)
    try:
        result = execute_notebook(ROOT / "solutions" / f"{stem}.ipynb", out, timeout=1800)
    finally:
        if previous is None:
            os.environ.pop("COURSE_CACHE_DIR", None)
        else:
            os.environ["COURSE_CACHE_DIR"] = previous
    if not result.ok:
        raise RuntimeError(f"{stem}: cell {result.cell_index} failed: {result.error}")
    return result.seconds, claims.executed_results(nbformat.read(str(result.output), as_version=4))


def record(stem: str, rerun_only: bool = False) -> dict:
    """Measure one notebook and write docs/results/<stem>.json; return what was written."""
    stored = claims.load_stored(ROOT, stem) or {}
    seconds = dict(stored.get("seconds") or {})
    with tempfile.TemporaryDirectory(prefix=f"results_{stem}_") as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "executed"
        cache.mkdir()
        results: dict = {}
        if not rerun_only or "first" not in seconds:
            seconds["first"], results = _run(stem, cache, out)
            print(f"{stem}: first run {seconds['first']:.1f} s, {len(results)} results", flush=True)
        seconds["rerun"], again = _run(stem, cache, out)
        print(f"{stem}: re-run {seconds['rerun']:.1f} s", flush=True)
    if results:
        differ = claims.drift_problems(stem, again, {"results": results})
        for problem in differ:
            print(f"warning: the re-run disagrees with the first run: {problem}", file=sys.stderr)
    data = {
        "stem": stem,
        "measured": _machine(),
        "seconds": {key: round(value, 1) for key, value in seconds.items()},
        "results": results or again,
    }
    path = ROOT / claims.RESULTS_DIR / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stems", nargs="+", help="notebook stems (default: every solution notebook)")
    parser.add_argument("--rerun-only", action="store_true", help="keep the stored first-run seconds")
    args = parser.parse_args(argv)
    stems = args.stems or solution_stems(ROOT)
    unknown = sorted(set(stems) - set(solution_stems(ROOT)))
    if unknown:
        print(f"no solution notebook for {', '.join(unknown)}", file=sys.stderr)
        return 2
    failed = []
    for stem in stems:
        try:
            record(stem, args.rerun_only)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            failed.append(stem)
    print("then run `python -m autograder release` (run-time phrases) and `bash scripts/lint.sh` (annotated numbers)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
