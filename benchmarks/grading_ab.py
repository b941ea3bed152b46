"""Grading throughput of two checkouts of the grader, measured in one run (A/B, alternating rounds).

    python benchmarks/grading_ab.py --before /tmp/base [--after .] [--rounds 2] [--workers 2] [--json OUT]

Both checkouts grade the same sample submissions (generated once with this checkout's
`python -m autograder samples`; default students: reference, partial, untouched) with their own
`python -m autograder grade` (2 workers, a fresh output folder each time), so each is timed with its own
grader, sandbox and runner. Rounds
alternate before/after so that a change in machine load hits both; the report gives the median seconds
per graded notebook of each and their ratio. A change that makes grading safer should not make it more
than 10% slower (issue 17): `--max-slowdown 0.10` turns that into the exit status.
Make a checkout of an older commit with `git worktree add /tmp/base <commit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _samples(students: list[str], stems: list[str] | None) -> Path:
    sys.path.insert(0, str(ROOT))
    from autograder.tools.samples import write_samples

    out = Path(tempfile.mkdtemp(prefix="grading-ab-samples-"))
    write_samples(out, stems)
    for folder in out.iterdir():
        if folder.is_dir() and folder.name not in students:
            shutil.rmtree(folder)
    os.chmod(out, 0o755)
    return out


def _grade_once(tree: Path, samples: Path, workers: int, test_timeout: float) -> dict:
    """One timing of checkout `tree` grading `samples` with its own `python -m autograder grade` (fresh output)."""
    if not (tree / "autograder" / "grader").is_dir():
        raise SystemExit(f"{tree} has no autograder/grader: is it a checkout of the course?")
    out = Path(tempfile.mkdtemp(prefix="grading-ab-out-"))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "autograder", "grade", str(samples), "--out", str(out), "--quiet"]
    cmd += ["--workers", str(workers), "--test-timeout", f"{test_timeout:g}", "--release-dir", str(tree / "notebooks")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"grading with {tree} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-800:]}")
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    shutil.rmtree(out, ignore_errors=True)
    return {
        "submissions": len(records),
        "wall_s": round(wall, 2),
        "s_per_submission": round(wall / max(1, len(records)), 3),
        "points": {
            f"{r.get('student')}/{r.get('stem')}": f"{r.get('points'):g}/{r.get('max_points'):g}" for r in records
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, type=Path, help="checkout of the older grader")
    parser.add_argument("--after", default=ROOT, type=Path, help="checkout of the newer grader (default: this one)")
    parser.add_argument("--rounds", type=int, default=2, help="before/after pairs (default 2)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--test-timeout", type=float, default=20.0)
    parser.add_argument("--students", nargs="+", default=["reference", "partial", "untouched"])
    parser.add_argument("--stems", nargs="+", help="notebooks to grade (default: all)")
    parser.add_argument("--max-slowdown", type=float, default=None, help="fail when after/before - 1 exceeds this")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON to OUT")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    samples = _samples(args.students, args.stems)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for k in range(args.rounds):
        order = ("before", "after") if k % 2 == 0 else ("after", "before")
        for which in order:
            tree = (args.before if which == "before" else args.after).resolve()
            row = _grade_once(tree, samples, args.workers, args.test_timeout)
            runs[which].append(row)
            print(
                f"round {k + 1} {which:6s} {tree}: {row['submissions']} notebooks in {row['wall_s']:.1f} s "
                f"({row['s_per_submission']:.2f} s each)",
                flush=True,
            )
    median = {w: statistics.median(r["s_per_submission"] for r in rows) for w, rows in runs.items()}
    ratio = median["after"] / median["before"]
    points_differ = sorted(
        key
        for key, value in runs["before"][0]["points"].items()
        if runs["after"][0]["points"].get(key) not in (None, value)
    )
    result = {
        "before": str(args.before),
        "after": str(args.after),
        "workers": args.workers,
        "rounds": args.rounds,
        "notebooks": runs["after"][0]["submissions"],
        "median_s_per_submission": {w: round(v, 3) for w, v in median.items()},
        "after_over_before": round(ratio, 3),
        "points_that_differ": points_differ,
        "runs": runs,
    }
    print(
        f"median s per notebook: before {median['before']:.2f}, after {median['after']:.2f}; "
        f"after/before = {ratio:.3f} ({(ratio - 1) * 100:+.1f}%)"
    )
    if points_differ:
        print(f"points differ between the two graders for: {', '.join(points_differ)}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.max_slowdown is not None and ratio - 1 > args.max_slowdown:
        print(f"slower by more than {args.max_slowdown:.0%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
