"""A learner's work is never lost: `release` refuses to overwrite it, `start` copies the notebooks to work/.

Every test works on a copy of the course under tmp_path, never on this checkout's notebooks/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output

from autograder.tools import release, student_copy
from autograder.tools.release import ROOT, learner_work, make_release, read_notebook, release_text, work_at_risk

STEM = "00_orientation"
OTHER = "01_prediction_depth"
FILLED_ACCURACY = (  # replaces the stub's `raise NotImplementedError()`, at the body's indentation
    'if logits.ndim != 2 or y.shape != logits.shape[:1]:\n        raise ValueError("logits (N, C) and y (N,)")\n'
    "    return float((logits.argmax(dim=1) == y).float().mean())"
)
pytestmark = pytest.mark.skipif(
    not (ROOT / "notebooks" / f"{STEM}.ipynb").exists(), reason=f"no notebooks/{STEM}.ipynb"
)


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _fill_accuracy(nb: nbformat.NotebookNode) -> None:
    cell = _cell(nb, "accuracy_impl")
    assert "raise NotImplementedError()" in cell.source
    cell.source = cell.source.replace("raise NotImplementedError()", FILLED_ACCURACY)


def _add_outputs(nb: nbformat.NotebookNode) -> None:
    cell = _cell(nb, "imports")
    cell.outputs = [new_output("stream", name="stdout", text="what JupyterLab's autosave keeps\n")]
    cell.execution_count = 1


def _answer(nb: nbformat.NotebookNode) -> None:
    _cell(nb, "answer_profiling").source = "Tracing runs one batch's path only, so the cost depends on that batch."


def _add_cell(nb: nbformat.NotebookNode) -> None:
    nb.cells.append(new_code_cell('from autograder.tools.selfcheck import check\ncheck(exercise="accuracy")'))


WORK = {
    "outputs": (_add_outputs, "outputs in 1 cell(s)"),
    "solution cell": (_fill_accuracy, "edited exercise cells ['accuracy_impl']"),
    "answer cell": (_answer, "edited exercise cells ['answer_profiling']"),
    "added cell": (_add_cell, "1 cell(s) you added"),
}


def _edit(path: Path, *changes) -> bytes:
    """Apply `changes` to the notebook at `path` (saved the way JupyterLab saves it) and return its new bytes."""
    nb = read_notebook(path)
    for change in changes:
        change(nb)
    nbformat.write(nb, str(path))
    return path.read_bytes()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """The parts of the course that `release` reads and writes, copied under tmp_path (no .git)."""
    root = tmp_path / "course"
    for folder in ("solutions", "notebooks", "docs/results"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def _release(root: Path, *args: str) -> int:
    return release.main(["--stems", STEM, OTHER, "--root", str(root), *args])


# ---------------------------------------------------------------------------------------------
# release refuses to overwrite work


@pytest.mark.parametrize("kind", list(WORK))
def test_release_refuses_work_and_writes_nothing(course: Path, kind: str, capsys) -> None:
    change, said = WORK[kind]
    work = _edit(course / "notebooks" / f"{STEM}.ipynb", change)
    (course / "notebooks" / f"{OTHER}.ipynb").unlink()  # the release would write it: all or nothing
    before = _snapshot(course / "notebooks")
    assert _release(course) == 1
    out = capsys.readouterr().out
    assert "release REFUSED" in out
    assert f"notebooks/{STEM}.ipynb: {said}" in out
    assert f"python -m autograder start --stems {STEM}" in out and "--force" in out
    assert (course / "notebooks" / f"{STEM}.ipynb").read_bytes() == work
    assert _snapshot(course / "notebooks") == before
    assert not (course / "autograder").exists(), "the refused release wrote the references"


def test_release_accepts_untouched_notebooks(course: Path, capsys) -> None:
    assert _release(course) == 0
    assert (course / "notebooks" / f"{STEM}.ipynb").read_text(encoding="utf-8") == release_text(STEM, course)
    assert _release(course) == 0  # identical to the release: nothing to refuse
    assert "REFUSED" not in capsys.readouterr().out


def test_release_accepts_a_notebook_released_from_an_older_stub(course: Path) -> None:
    """The instructor changed an exercise's stub since: the learner's untouched copy is not their work."""
    assert _release(course) == 0
    old = (course / "notebooks" / f"{STEM}.ipynb").read_bytes()
    _edit(
        course / "solutions" / f"{STEM}.ipynb",
        lambda nb: setattr(
            _cell(nb, "accuracy_impl"), "source", "# a new first line\n" + _cell(nb, "accuracy_impl").source
        ),
    )
    assert _release(course) == 0
    new = (course / "notebooks" / f"{STEM}.ipynb").read_text(encoding="utf-8")
    assert new.encode() != old and "# a new first line" in new


def test_release_force_overwrites_the_work(course: Path, capsys) -> None:
    _edit(course / "notebooks" / f"{STEM}.ipynb", _fill_accuracy, _add_outputs, _add_cell)
    assert _release(course, "--force") == 0
    assert (course / "notebooks" / f"{STEM}.ipynb").read_text(encoding="utf-8") == release_text(STEM, course)
    assert "REFUSED" not in capsys.readouterr().out


def test_release_check_is_unchanged_by_work(course: Path, capsys) -> None:
    """--check never writes and still reports outputs as a problem (it refuses nothing)."""
    work = _edit(course / "notebooks" / f"{STEM}.ipynb", _add_outputs)
    assert release.main(["--check", "--root", str(course)]) == 1
    out = capsys.readouterr().out
    assert f"notebooks/{STEM}.ipynb: committed outputs" in out and "REFUSED" not in out
    assert (course / "notebooks" / f"{STEM}.ipynb").read_bytes() == work


def test_no_released_notebook_counts_as_work() -> None:
    """Every committed student notebook, even one a little stale, holds no work against its own release."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        fresh = make_release(read_notebook(ROOT / "solutions" / path.name))
        assert learner_work(read_notebook(path), fresh) == [], path.name
        assert learner_work(fresh, fresh) == [], path.name


def test_a_notebook_identical_to_the_commit_is_not_at_risk(course: Path) -> None:
    """git keeps a committed notebook, so overwriting it loses nothing (the course's own notebooks/)."""
    _edit(course / "notebooks" / f"{STEM}.ipynb", _fill_accuracy)
    git = ["git", "-C", str(course), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    assert work_at_risk([STEM], course)
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "notebooks"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "filled"], check=True)
    assert work_at_risk([STEM], course) == {}
    _edit(course / "notebooks" / f"{STEM}.ipynb", _add_outputs)  # uncommitted work again
    assert list(work_at_risk([STEM], course)) == [course / "notebooks" / f"{STEM}.ipynb"]


# ---------------------------------------------------------------------------------------------
# the main job on a learner's clone


def _tracked_copy(dest: Path) -> None:
    """The checkout's files (tracked or new, as they are in the working tree) copied into dest, without .git."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


def _borrowed_venv(root: Path) -> None:
    """root/.venv: a virtual environment that uses this interpreter's packages, marked as installed for root's
    pyproject.toml so that scripts/setup.sh installs nothing (and never touches the real one)."""
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (venv / ".course-installed").write_text(digest + "\n")


@pytest.mark.skipif(
    sys.prefix == sys.base_prefix or not (Path(sys.prefix) / "pyvenv.cfg").exists(), reason="needs a venv"
)
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_main_job_keeps_a_learners_filled_notebook(tmp_path: Path) -> None:
    """A learner fills notebooks/00 in their clone and runs the main job: it stops at the release, work intact."""
    clone = tmp_path / "clone"
    _tracked_copy(clone)
    _borrowed_venv(clone)
    work = _edit(clone / "notebooks" / f"{STEM}.ipynb", _fill_accuracy, _answer, _add_outputs)
    before = _snapshot(clone / "notebooks")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_TORCH", "COURSE_SETUP"))}
    env["OUT"] = str(tmp_path / "runs")
    done = subprocess.run(["bash", "scripts/main.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "[setup] installing" not in out and "[setup] ready" in out, out
    assert "release REFUSED" in out and f"notebooks/{STEM}.ipynb: edited exercise cells" in out, out
    assert "main.sh stopped at step 1" in out and "== 2/5" not in out, out
    assert (clone / "notebooks" / f"{STEM}.ipynb").read_bytes() == work
    assert _snapshot(clone / "notebooks") == before
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------
# start: the learner's own copy


def test_start_copies_and_never_overwrites(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "work"
    assert student_copy.main([str(folder), "--stems", STEM]) == 0
    out = capsys.readouterr().out
    assert f"copied  {folder / f'{STEM}.ipynb'}" in out and "lab" in out and "1 copied, 0 kept" in out
    assert (folder / f"{STEM}.ipynb").read_bytes() == (ROOT / "notebooks" / f"{STEM}.ipynb").read_bytes()
    work = _edit(folder / f"{STEM}.ipynb", _fill_accuracy, _add_outputs)
    assert student_copy.main([str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"kept    {folder / f'{STEM}.ipynb'} (already there" in out
    assert (folder / f"{STEM}.ipynb").read_bytes() == work
    assert sorted(p.stem for p in folder.glob("*.ipynb")) == student_copy.student_stems()
    assert student_copy.main([str(folder), "--stems", "99_nothing"]) == 2
    assert "no student notebook for ['99_nothing']" in capsys.readouterr().err


def test_start_default_folder_is_ignored_by_git() -> None:
    assert student_copy.DEFAULT_DIR == ROOT / "work"
    for rel in ("work/00_orientation.ipynb", "submissions/a/00.ipynb", "grades/g.json", "course/source/x.ipynb"):
        assert subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", rel]).returncode == 0, rel
    assert subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "autograder/course/x.py"]).returncode == 1


def test_a_copied_notebook_runs_from_its_folder(tmp_path: Path) -> None:
    """The copy's setup, imports and data cells and a self-check of a filled exercise, run with the kernel in DIR."""
    nbclient = pytest.importorskip("nbclient")
    folder = tmp_path / "work"
    student_copy.copy_notebooks(folder, [STEM])
    nb = read_notebook(folder / f"{STEM}.ipynb")
    _fill_accuracy(nb)
    data_cell = next(c for c in nb.cells if c.cell_type == "code" and "load_dataset(" in c.source)
    check = new_code_cell(
        "import os\n"
        f"assert os.getcwd() == {str(folder)!r}\n"
        "from autograder.tools.selfcheck import check\n"
        'report = check(exercise="accuracy")\n'
        "assert report.points == report.max_points > 0, report.table()\n"
        "print('self-check', report.points, 'of', report.max_points)"
    )
    nb.cells = [_cell(nb, "setup"), _cell(nb, "imports"), data_cell, _cell(nb, "accuracy_impl"), check]
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "self-check" in text and "Total:" in text, text
    assert f"[{STEM}] run size: small" in "".join(o.get("text", "") for o in nb.cells[0].outputs)
