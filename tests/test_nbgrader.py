"""Stock nbgrader 0.9.x runs the whole instructor path on a course built from this repository."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.tools.nbgrader_course import build_course, nbgrader_env
from autograder.tools.release import ROOT, is_answer_cell, nbgrader_meta, read_notebook, release_text, solution_stems

STEM = "00_orientation"
HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
needs_stem = pytest.mark.skipif(STEM not in solution_stems(ROOT), reason=f"solutions/{STEM}.ipynb not written yet")


def nbgrader(course: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the venv's nbgrader from the course folder with the venv's bin on PATH (alembic)."""
    exe = Path(sys.executable).parent / "nbgrader"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nbgrader"]
    proc = subprocess.run(
        [*cmd, *args], cwd=course, env=nbgrader_env(), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def submit(course: Path, student: str, notebook: Path) -> None:
    folder = course / "submitted" / student / STEM
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, folder / f"{STEM}.ipynb")


def test_config_template_sets_the_course_keys(tmp_path: Path, monkeypatch) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.tools.nbgrader_config import CELL_TIMEOUT_S, ZIP_COLLECT_REGEXP

    for var in ("COURSE_ID", "NBGRADER_DB_URL", "NBGRADER_EXCHANGE", "NBGRADER_CELL_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    course = build_course(tmp_path / "course", [solution_stems(ROOT)[0]])
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    assert config.CourseDirectory.root == str(course)
    assert config.CourseDirectory.db_url == f"sqlite:///{course / 'gradebook.db'}"
    assert config.ExecutePreprocessor.timeout == CELL_TIMEOUT_S >= 600
    assert config.OverwriteCells.add_missing_cells is True
    assert config.FileNameCollectorPlugin.named_regexp == ZIP_COLLECT_REGEXP
    from nbgrader.preprocessors import OverwriteCells
    from traitlets.utils.importstring import import_item

    from autograder.tools.nbgrader_config import QUIET_OVERWRITE_CELLS

    sanitize = list(config.Autograde.sanitize_preprocessors)
    assert QUIET_OVERWRITE_CELLS in sanitize and "nbgrader.preprocessors.OverwriteCells" not in sanitize
    assert len(sanitize) == 5 and issubclass(import_item(QUIET_OVERWRITE_CELLS), OverwriteCells)
    import re

    match = re.match(ZIP_COLLECT_REGEXP, "ps_jdoe_attempt_2026-11-02-10-00-00_00_orientation.ipynb")
    assert match and match["student_id"] == "jdoe" and match["file_id"] == "00_orientation.ipynb"
    with pytest.raises(Exception, match="not empty"):
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "notes.txt").write_text("x")
        build_course(tmp_path / "other", [solution_stems(ROOT)[0]])


@pytest.mark.slow
@needs_stem
def test_stock_nbgrader_generate_autograde_feedback_export(tmp_path: Path) -> None:
    course = build_course(tmp_path / "course", [STEM])
    assert (course / "nbgrader_config.py").exists() and (course / "source" / STEM / f"{STEM}.ipynb").exists()

    nbgrader(course, "generate_assignment", STEM, "--force")
    released = course / "release" / STEM / f"{STEM}.ipynb"
    # our generator writes exactly what nbgrader writes
    assert released.read_text(encoding="utf-8").rstrip("\n") == release_text(STEM).rstrip("\n")

    source = read_notebook(ROOT / "solutions" / f"{STEM}.ipynb")
    manual = sum(float(nbgrader_meta(c)["points"]) for c in source.cells if is_answer_cell(c))
    submit(course, "solution", ROOT / "solutions" / f"{STEM}.ipynb")
    submit(course, "untouched", released)
    # a deleted test cell is restored from the gradebook (OverwriteCells.add_missing_cells = True)
    nb = read_notebook(ROOT / "solutions" / f"{STEM}.ipynb")
    first_test = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade") and c.cell_type == "code")
    del nb.cells[first_test]
    deleted = tmp_path / "deleted.ipynb"
    nbformat.write(nb, str(deleted))
    submit(course, "deleted_test_cell", deleted)

    # an edited visible test: nbgrader warns about that cell and grades the recorded one
    nb = read_notebook(ROOT / "solutions" / f"{STEM}.ipynb")
    edited_id = next(
        nbgrader_meta(c)["grade_id"] for c in nb.cells if c.cell_type == "code" and HIDDEN_TESTS in c.source
    )
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == edited_id:
            cell.source = cell.source.split(HIDDEN_TESTS)[0] + "print('tests edited by the student')\n"
    edited = tmp_path / "edited.ipynb"
    nbformat.write(nb, str(edited))
    submit(course, "edited_test_cell", edited)

    proc = nbgrader(course, "autograde", STEM, "--force")
    log = proc.stdout + proc.stderr
    assert "Missing grade cell" in log
    # the untouched release (its test cells lack their hidden tests) raises no checksum warning, the edit does
    assert re.findall(r"Attribute 'checksum' for cell (\S+) has changed!", log) == [edited_id]
    graded = read_notebook(course / "autograded" / "edited_test_cell" / STEM / f"{STEM}.ipynb")
    restored = next(c for c in graded.cells if nbgrader_meta(c).get("grade_id") == edited_id)
    assert HIDDEN_TESTS in restored.source and "edited by the student" not in restored.source
    nbgrader(course, "generate_feedback", STEM, "--force")
    students = ("solution", "untouched", "deleted_test_cell", "edited_test_cell")
    for student in students:
        assert (course / "feedback" / student / STEM / f"{STEM}.html").exists(), student
    nbgrader(course, "export")

    with open(course / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(students)
    max_score = float(rows["solution"]["max_score"])
    assert manual > 0 and max_score > manual
    assert float(rows["solution"]["raw_score"]) == pytest.approx(max_score - manual)  # all but manual answers
    assert float(rows["deleted_test_cell"]["raw_score"]) == pytest.approx(max_score - manual)
    assert float(rows["edited_test_cell"]["raw_score"]) == pytest.approx(max_score - manual)
    assert float(rows["untouched"]["raw_score"]) == 0.0
