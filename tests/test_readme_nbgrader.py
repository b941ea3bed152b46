"""README's stock-nbgrader steps, run exactly as written (the fenced block between the `tested: nbgrader` markers).

The block runs in a folder that stands for the repository root (its `.venv` is a link to this checkout's venv, and
the PATH has no venv on it: the block's own `source .venv/bin/activate` must provide it). The only substitution is
the documented placeholder for the student's file, `~/Downloads/00_orientation.ipynb`, which becomes a released
notebook with every exercise filled in from the solution.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder.tools.release import ROOT, is_answer_cell, nbgrader_meta, read_notebook, release_text
from test_nbgrader import STEM, needs_stem

README = ROOT / "README.md"
SUBMISSION_PLACEHOLDER = "~/Downloads/00_orientation.ipynb"
STUDENT = "jdoe"
HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
CHECKSUM_WARNING = re.compile(r"\[AutogradeApp \| WARNING\] Attribute 'checksum' for cell (\S+) has changed!")


def readme_block(name: str, text: str | None = None) -> str:
    """The fenced bash block between `<!-- begin tested: NAME -->` and `<!-- end tested: NAME -->`, dedented."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = re.findall(
        rf"<!-- begin tested: {name} -->\n(.*?)\n[ \t]*<!-- end tested: {name} -->", text, flags=re.DOTALL
    )
    assert len(found) == 1, f"README.md should have one block marked 'tested: {name}', found {len(found)}"
    fenced = re.fullmatch(r"\s*```bash\n(.*?)\n[ \t]*```\s*", found[0], flags=re.DOTALL)
    assert fenced, "the marked block should be exactly one ```bash fence"
    return textwrap.dedent(fenced[1])


def filled_submission(path: Path) -> Path:
    """The released notebook with each exercise cell (code and open answers) taken from the solution."""
    released = nbformat.reads(release_text(STEM), as_version=4)
    solution = {
        nbgrader_meta(c)["grade_id"]: c.source
        for c in read_notebook(ROOT / "solutions" / f"{STEM}.ipynb").cells
        if nbgrader_meta(c).get("solution")
    }
    for cell in released.cells:
        if nbgrader_meta(cell).get("solution"):
            cell.source = solution[nbgrader_meta(cell)["grade_id"]]
    nbformat.write(released, str(path))
    return path


def env_without_venv() -> dict[str, str]:
    """This environment with no virtual environment active and none of its bin folders on PATH."""
    venv_bins = {str(Path(sys.executable).parent), str(ROOT / ".venv" / "bin")}
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p not in venv_bins)
    return env


def test_readme_block_is_complete_and_has_the_placeholder() -> None:
    block = readme_block("nbgrader")
    assert block.count(SUBMISSION_PLACEHOLDER) == 1
    steps = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    order = ["source .venv/bin/activate", "python -m autograder nbgrader-course course/", "cd course/"]
    order += ["nbgrader generate_assignment", "mkdir -p", "cp ", "nbgrader autograde", "nbgrader generate_feedback"]
    order += ["nbgrader export"]
    positions = [next(i for i, s in enumerate(steps) if s.startswith(prefix)) for prefix in order]
    assert positions == sorted(positions), steps
    assert f'"submitted/{STUDENT}/$STEM/$STEM.ipynb"' in block  # the layout autograde reads
    with pytest.raises(AssertionError, match="one block"):
        readme_block("nbgrader", text="no markers here")


@pytest.mark.slow
@needs_stem
def test_readme_nbgrader_steps_run_as_written(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    submission = filled_submission(tmp_path / "handed_in.ipynb")
    script = readme_block("nbgrader").replace(SUBMISSION_PLACEHOLDER, str(submission))

    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repo,
        env=env_without_venv(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]

    course = repo / "course"
    assert (course / "autograded" / STUDENT / STEM / f"{STEM}.ipynb").exists(), log[-3000:]
    assert (course / "feedback" / STUDENT / STEM / f"{STEM}.html").exists(), log[-3000:]
    with open(course / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == {STUDENT}
    source = read_notebook(ROOT / "solutions" / f"{STEM}.ipynb")
    manual = sum(float(nbgrader_meta(c)["points"]) for c in source.cells if is_answer_cell(c))
    max_score = float(rows[STUDENT]["max_score"])
    assert max_score > manual > 0
    assert float(rows[STUDENT]["raw_score"]) == pytest.approx(max_score - manual)  # every autograded point

    # Stock nbgrader warns once per test cell with hidden tests (here 2); the course's config restores them quietly.
    with_hidden_tests = [
        nbgrader_meta(c)["grade_id"]
        for c in source.cells
        if nbgrader_meta(c).get("grade") and c.cell_type == "code" and HIDDEN_TESTS in c.source
    ]
    assert len(with_hidden_tests) == 2
    assert CHECKSUM_WARNING.findall(log) == []
    graded = read_notebook(course / "autograded" / STUDENT / STEM / f"{STEM}.ipynb")
    assert sum(HIDDEN_TESTS in c.source for c in graded.cells) == len(with_hidden_tests)  # graded with them
