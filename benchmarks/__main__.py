"""Run the course benchmarks and write one markdown report plus a figure.

Usage (from the repository root, venv active):
    python -m benchmarks [--only notebooks,grading,speedups,training] [--cold] [--out docs/benchmarks]

Sections:
- notebooks: each solution notebook's wall time and kernel peak memory at the small size (warm checkpoint cache
  by default: the time a student's second run or the grader sees; --cold uses an empty cache, the first run);
- grading: seconds per submission per notebook with 1 and 2 workers (benchmarks/grading_throughput.py);
- speedups: MAC ratio against measured wall-clock ratio at batch 1 and 256 for early exit (03) and layer
  skipping (04) (benchmarks/bench_early_exit.py, benchmarks/bench_layer_skipping.py);
- training: epochs/s and accuracy of the small early-exit ResNet (benchmarks/bench_training.py).
Results of each section are kept as JSON next to the report, so re-running one section is cheap and the
report is rebuilt from whatever is there (`--only ""` rebuilds it without measuring anything). On a CUDA machine the report is named after the GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("notebooks", "grading", "speedups", "training")
TARGETS = {
    "notebook_seconds": 300.0,  # every notebook under 5 minutes at the small size on 2 CPU cores
    "full_submission_seconds": 600.0,  # grading all notebooks of one student under 10 minutes
    "speedup_over_mac_ratio": 0.75,  # early-exit wall-clock speedup at batch 256 vs its MAC ratio
}


def machine_tag() -> tuple[str, dict]:
    import torch

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cpu",
    }
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
        return "gpu-" + info["device"].lower().replace(" ", "-"), info
    return f"cpu-{os.cpu_count()}core", info


def run_json(cmd: list[str], env: dict | None = None, timeout: int = 3600) -> dict:
    """Run a command that writes JSON to the file named by its --json argument; return the JSON."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    proc = subprocess.run(cmd + ["--json", out], cwd=ROOT, env=env, timeout=timeout, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-500:]}"}
    try:
        return json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


def bench_notebooks(cold: bool) -> dict:
    env = dict(os.environ, COURSE_SIZE="small", TQDM_DISABLE="1", MPLBACKEND="Agg")
    cache = tempfile.mkdtemp(prefix="bench-cache-") if cold else None
    if cache:
        env["COURSE_CACHE_DIR"] = cache
    rows = []
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.notebook_time", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        row = json.loads(lines[-1]) if lines else {"notebook": path.stem, "error": proc.stderr[-300:]}
        rows.append(row)
        print(f"  {row}", flush=True)
    return {"cache": "cold" if cold else "warm", "rows": rows}


def bench_scripts(section: str) -> dict:
    scripts = {
        "grading": [
            ("grading", ["benchmarks/grading_throughput.py", "--students", "reference", "partial", "untouched"])
        ],
        "speedups": [
            ("early_exit", ["benchmarks/bench_early_exit.py"]),
            ("layer_skipping", ["benchmarks/bench_layer_skipping.py"]),
        ],
        "training": [("training", ["benchmarks/bench_training.py"])],
    }[section]
    results = {}
    for name, script in scripts:
        if not (ROOT / script[0]).exists():
            results[name] = {"error": f"{script[0]} is missing"}
            continue
        print(f"  running {script[0]}", flush=True)
        results[name] = run_json([sys.executable, *script])
    return results


def _table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value: object) -> object:
    return f"{value:.3g}" if isinstance(value, float) else value


def _flat(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        items: list[tuple[str, object]] = []
        for k, v in value.items():
            items += _flat(v, f"{prefix}{k}." if not isinstance(v, dict) else f"{prefix}{k}.")
        return [(k.rstrip("."), v) for k, v in items]
    return [(prefix.rstrip("."), value)]


def render(results: dict, info: dict, out_dir: Path, tag: str) -> Path:
    lines = [
        f"# Benchmark report: {tag}",
        "",
        "Produced by `python -m benchmarks`; numbers are from one run on the machine below (timings on a shared "
        "2-core machine are noisy: compare ratios measured in the same run).",
        "",
        _table([info], list(info)),
        "",
    ]
    nb = results.get("notebooks")
    if nb:
        lines += [
            f"## Solution notebooks at the small size ({nb['cache']} checkpoint cache)",
            "",
            f"Target: each under {TARGETS['notebook_seconds']:.0f} s on 2 CPU cores.",
            "",
        ]
        rows = [
            dict(
                r,
                target=(
                    "met" if r.get("seconds", 1e9) <= TARGETS["notebook_seconds"] and not r.get("error") else "MISSED"
                ),
            )
            for r in nb["rows"]
        ]
        lines += [_table(rows, ["notebook", "seconds", "peak_rss_mib", "target", "error"]), ""]
    for section, title in (
        ("grading", "Grading throughput"),
        ("speedups", "Dynamic-inference speedups"),
        ("training", "Training the small early-exit ResNet"),
    ):
        if section not in results:
            continue
        lines += [f"## {title}", ""]
        for name, data in results[section].items():
            if isinstance(data, dict) and "markdown" in data:
                lines += [f"### {name}", "", data["markdown"], ""]
                continue
            lines += [f"### {name}", ""]
            tables = (
                {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
                if isinstance(data, dict)
                else {}
            )
            scalars = {k: v for k, v in data.items() if k not in tables} if isinstance(data, dict) else data
            lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _flat(scalars)] + [""]
            for rows in tables.values():
                flat_rows = [dict(_flat({k: v for k, v in row.items() if k != "points"})) for row in rows]
                columns = list(dict.fromkeys(k for row in flat_rows for k in row))
                lines += [_table([{k: _fmt(v) for k, v in row.items()} for row in flat_rows], columns), ""]
    lines += [
        "## Targets",
        "",
        f"- every notebook under {TARGETS['notebook_seconds']:.0f} s at the small size on 2 CPU cores;",
        f"- grading a full submission (all notebooks) under {TARGETS['full_submission_seconds']:.0f} s on 2 CPU cores;",
        f"- early-exit wall-clock speedup at batch 256 at least {TARGETS['speedup_over_mac_ratio']} of its MAC ratio.",
        "",
    ]
    path = out_dir / f"report_{tag}.md"
    path.write_text("\n".join(lines))
    _figure(results, out_dir / f"report_{tag}.png")
    return path


def _figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = results.get("notebooks")
    if not nb:
        return
    rows = [r for r in nb["rows"] if "seconds" in r]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.barh([r["notebook"] for r in rows], [r["seconds"] for r in rows], color="tab:blue")
    ax.axvline(TARGETS["notebook_seconds"], color="red", linestyle="--", label="5-minute target")
    ax.set_xlabel(f"seconds ({nb['cache']} cache, small size)")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the course benchmarks and write one report.")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--cold", action="store_true", help="time notebooks with an empty checkpoint cache")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    tag, info = machine_tag()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / f"results_{tag}.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    for section in wanted:
        print(f"[benchmarks] {section}", flush=True)
        results[section] = bench_notebooks(args.cold) if section == "notebooks" else bench_scripts(section)
        store.write_text(json.dumps(results, indent=2))
    results["info"] = info
    store.write_text(json.dumps(results, indent=2))
    report = render(results, info, out_dir, tag)
    print(f"[benchmarks] wrote {report}")


if __name__ == "__main__":
    main()
