"""Grading throughput of the course's grader: seconds per submission per notebook, 1 and 2 workers.

    python benchmarks/grading_throughput.py [SAMPLES_DIR] [--workers 1 2] [--stems 00_orientation] [--json]

SAMPLES_DIR holds OUT/<student>/<stem>.ipynb (from `python -m autograder samples OUT`); without it the
samples are generated into a temporary folder. Each worker count grades every sample into a fresh
output folder (--force, no resume) and reports wall-clock seconds per graded notebook. On a shared
machine the numbers are noisy: run it alone, and say how loaded the machine was.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _samples(path: str | None, stems: list[str] | None, students: list[str] | None = None) -> Path:
    if path:
        return Path(path)
    import shutil

    from autograder.tools.samples import write_samples

    out = Path(tempfile.mkdtemp(prefix="grading-bench-samples-"))
    write_samples(out, stems)
    if students:
        for folder in out.iterdir():
            if folder.is_dir() and folder.name not in students:
                shutil.rmtree(folder)
    return out


def measure(samples: Path, workers: int, test_timeout: float) -> dict:
    """Grade every notebook under `samples` once with `workers` workers; return timing and points."""
    from autograder.grader.cli import collect_submissions, grade
    from autograder.grader.judge import GradeOptions

    subs, _ = collect_submissions([str(samples)])
    if not subs:
        raise SystemExit(f"no .ipynb files under {samples}")
    out = Path(tempfile.mkdtemp(prefix=f"grading-bench-w{workers}-"))
    options = GradeOptions(test_timeout=test_timeout, threads=max(1, (os.cpu_count() or 1) // workers))
    t0 = time.perf_counter()
    records = grade(subs, out, options, workers=workers, release_dir=ROOT / "notebooks", force=True, progress=False)
    wall = time.perf_counter() - t0
    per_stem: dict[str, list[float]] = {}
    for r in records:
        per_stem.setdefault(r.stem or "?", []).append(r.duration_s)
    return {
        "workers": workers,
        "submissions": len(records),
        "wall_s": round(wall, 2),
        "s_per_submission": round(wall / max(1, len(records)), 2),
        "mean_grade_s_by_stem": {k: round(sum(v) / len(v), 2) for k, v in per_stem.items()},
        "points": {f"{r.student}/{r.stem}": f"{r.points:g}/{r.max_points:g}" for r in records},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", nargs="?", help="folder of sample submissions (default: generate them)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--stems", nargs="+", help="stems to generate samples for (default: all)")
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=20.0,
        help="per-test limit; the infinite-loop sample waits this long (default 20)",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="OUT",
        help="JSON instead of a markdown table: to stdout, or written to OUT",
    )
    parser.add_argument("--students", nargs="+", help="only these sample students (default: all)")
    args = parser.parse_args(argv)
    samples = _samples(args.samples, args.stems, args.students)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [measure(samples, w, args.test_timeout) for w in args.workers]
    info = {
        "cpu_count": os.cpu_count(),
        "load_1min_before": round(load, 2),
        "python": platform.python_version(),
        "samples": str(samples),
        "results": rows,
    }
    for row in rows:  # one student's whole course = one notebook of each stem
        stems = len(row["mean_grade_s_by_stem"])
        row["full_submission_s_estimate"] = round(row["s_per_submission"] * stems, 1)
    if args.json == "-":
        print(json.dumps(info, indent=1))
        return 0
    elif args.json:
        Path(args.json).write_text(json.dumps(info, indent=1))
        return 0
    print(
        f"Grading throughput ({os.cpu_count()} CPU cores, 1-min load {load:.1f} before the run; noisy on a "
        f"shared machine)\n"
    )
    print("| workers | notebooks graded | wall (s) | s per submission | mean grading time per notebook (s) |")
    print("|---|---|---|---|---|")
    for r in rows:
        means = ", ".join(f"{k} {v:g}" for k, v in sorted(r["mean_grade_s_by_stem"].items()))
        print(f"| {r['workers']} | {r['submissions']} | {r['wall_s']:g} | {r['s_per_submission']:g} | {means} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
