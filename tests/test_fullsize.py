"""The full size on a CPU: every solution notebook at COURSE_SIZE=full shapes, then graded (a smoke test).

Synthetic files in torchvision's CIFAR-10 and Fashion-MNIST formats (tests/synthetic_datasets.py, a few hundred
images) stand in for the downloads, in a temporary data folder; COURSE_SKIP_CHECKSUM=1 lets torchvision read them
and COURSE_TRAIN_CAP caps every `fit` call (course_lib.env.train_cap). So the notebooks run the full-size code paths
(3x32x32 inputs, ResNet-20, the full-size cost tables and cache keys) in minutes; their accuracies mean nothing.
The fit log (COURSE_FIT_LOG) records each training call's requested full-size epochs, which
benchmarks/fullsize_estimate.py turns into the Colab T4 estimate of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from autograder.grader.cli import main as grade_main
from autograder.grader.report import read_results
from autograder.tools.execute import execute_notebook
from autograder.tools.release import ROOT, solution_stems
from grading_fixtures import sandbox_args
from synthetic_datasets import write_cifar10, write_fashion_mnist

pytestmark = pytest.mark.slow
STEMS = solution_stems(ROOT)
CAP = os.environ.get("FULLSIZE_TRAIN_CAP", "1:3")
EXECUTED: dict[str, Path] = {}
SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def fullsize(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the synthetic downloads, the full-size environment set for this module's kernels."""
    base = tmp_path_factory.mktemp("fullsize")
    write_cifar10(base / "data" / "downloads")
    write_fashion_mnist(base / "data" / "downloads")
    saved = {
        k: os.environ.get(k)
        for k in (
            "COURSE_SIZE",
            "COURSE_TRAIN_CAP",
            "COURSE_SKIP_CHECKSUM",
            "COURSE_DATA_DIR",
            "COURSE_CACHE_DIR",
            "COURSE_FIT_LOG",
        )
    }
    os.environ.update(
        {
            "COURSE_SIZE": "full",
            "COURSE_TRAIN_CAP": CAP,
            "COURSE_SKIP_CHECKSUM": "1",
            "COURSE_DATA_DIR": str(base / "data"),
            "COURSE_CACHE_DIR": str(base / "cache"),
            "COURSE_FIT_LOG": str(base / "fits.jsonl"),
        }
    )
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    log = os.environ.get("FULLSIZE_KEEP")  # where to keep the fit log and timings, e.g. for the T4 estimate
    if log and (base / "fits.jsonl").exists():
        Path(log).mkdir(parents=True, exist_ok=True)
        shutil.copy(base / "fits.jsonl", Path(log) / "fits.jsonl")
        (Path(log) / "notebook_seconds.json").write_text(json.dumps(SECONDS, indent=1))


@pytest.mark.parametrize("stem", STEMS)
def test_solution_runs_at_full_size(stem: str, fullsize: Path) -> None:
    os.environ["COURSE_CACHE_DIR"] = str(fullsize / "cache" / stem)  # nothing cached by another notebook
    start = time.perf_counter()
    result = execute_notebook(ROOT / "solutions" / f"{stem}.ipynb", fullsize / "executed" / stem, timeout=1200)
    SECONDS[stem] = time.perf_counter() - start
    assert result.ok, (
        f"{stem} at COURSE_SIZE=full: cell {result.cell_index} failed after {result.seconds:.0f} s\n"
        f"{result.cell_source[:2000]}\n{result.error}"
    )
    text = result.output.read_text(encoding="utf-8")
    assert "run size: full" in text, "the notebook did not run at the full size"
    EXECUTED[stem] = result.output
    print(f"{stem}: {result.seconds:.1f} s at full size (capped)")


def test_fit_log_records_full_size_training(fullsize: Path) -> None:
    if set(EXECUTED) != set(STEMS):
        pytest.skip("not every notebook ran at full size")
    records = [json.loads(line) for line in (fullsize / "fits.jsonl").read_text().splitlines() if line.strip()]
    assert records, "no fit call was logged"
    assert all(r["train_size"] <= 600 for r in records)  # the synthetic data, not a download
    assert any((r.get("macs_per_image") or 0) > 40e6 for r in records), "no ResNet-20-sized model was trained"


def test_full_size_notebooks_get_full_marks(fullsize: Path, tmp_path: Path) -> None:
    missing = sorted(set(STEMS) - set(EXECUTED))
    assert not missing, f"these notebooks did not run at full size: {missing}"
    subs = tmp_path / "subs" / "fullsize"
    subs.mkdir(parents=True)
    for stem, path in EXECUTED.items():
        shutil.copy(path, subs / f"{stem}.ipynb")
    out = tmp_path / "grades"
    assert (
        grade_main(
            [str(subs.parent), "--out", str(out), "--workers", "2", "--quiet", "--release-dir", str(ROOT / "notebooks")]
            + sandbox_args()
        )
        == 0
    )
    rows = read_results(out / "results.jsonl")
    assert {r["stem"] for r in rows} == set(STEMS)
    for row in rows:
        bad = [(t["test"], t["state"], t.get("message", "")[:200]) for t in row["tests"] if t["state"] != "passed"]
        assert row["points"] == row["max_points"] > 0, f"{row['stem']}: {bad}"
