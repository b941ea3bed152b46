"""The notebook frame (autograder/tools/frame.py) and the README/self-study tables made from notebook metadata."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from autograder.tools import tables
from autograder.tools.frame import frame_problems
from autograder.tools.release import ROOT, main, read_notebook, solution_stems, write_release

STEM = "00_orientation"
REAL = read_notebook(ROOT / "solutions" / f"{STEM}.ipynb")


def _cell_with(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    """The one markdown cell of nb whose source contains text."""
    found = [c for c in nb.cells if c.cell_type == "markdown" and text in c.source]
    assert len(found) == 1, f"{len(found)} markdown cells of {STEM} contain {text!r}; update the test"
    return found[0]


def _replace(text: str, new: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        cell = _cell_with(nb, text)
        cell.source = cell.source.replace(text, new)

    return edit


def _set_run_time(nb: nbformat.NotebookNode) -> None:
    nb.metadata.course.run_time["small_first"] = "about 7 min"


def _drop_summary(nb: nbformat.NotebookNode) -> None:
    del nb.metadata.course["summary"]


def _recap_before_open_questions(nb: nbformat.NotebookNode) -> None:
    _replace("## Recap", "### Summary")(nb)
    index = nb.cells.index(_cell_with(nb, "## Open questions"))
    nb.cells.insert(index, new_markdown_cell("## Recap", id="early-recap"))


def _second_title(nb: nbformat.NotebookNode) -> None:
    _cell_with(nb, "## 2. The data").source += "\n\n# A second title"


# (rule broken, edit of a copy of solutions/00_orientation.ipynb, a phrase the problem must contain)
BROKEN = [
    ("title line", _replace("# 00 · Orientation", "# Orientation"), "the first line must be the title '# 00 · "),
    ("metadata title named", _replace("# 00 · Orientation", "# 00 · Setting up"), "does not name the metadata"),
    ("goals", _replace("**Goals**\n", "**Aims**\n"), "needs a line '**Goals**'"),
    ("contents", _replace("**Contents**: ", "Contents: "), "needs a '**Contents**: ...' line"),
    ("run time paragraph", _replace("**Expected run time**: ", "**Run time.** "), "instead of '**Run time.**'"),
    ("run time agrees with metadata", _set_run_time, "does not state course.run_time.small_first = 'about 7 min'"),
    ("metadata for the tables", _drop_summary, "course.summary must be a non-empty string"),
    ("goal wording", _replace("**Goal**: write the MAC", "**Goal.** write the MAC"), "write '**Goal**: ' instead"),
    ("expected result line", _replace("**Expected result**: your count", "Your count"), "'**Expected result**: ...'"),
    (
        "exercise points",
        _replace("## Exercise 2: accuracy (2 points)", "## Exercise 2: accuracy (3 points)"),
        "states 3 points but its test cells are worth 2",
    ),
    ("exercise numbering", _replace("## Exercise 2: accuracy", "## Exercise 3: accuracy"), "should be Exercise 2"),
    ("section numbering", _replace("## 4. The baseline ResNet", "## 5. The baseline ResNet"), "should be number 4"),
    (
        "solution cells under an exercise",
        _replace("## Exercise 2: accuracy (2 points)", "## 5. Accuracy"),
        "a solution cell under '## 5. Accuracy'",
    ),
    (
        "open-questions wording",
        _replace("## Open questions (1 point, graded by hand)", "## Open questions (1 point, manually graded)"),
        "is not one of '## N. Title'",
    ),
    (
        "open-questions points",
        _replace("## Open questions (1 point, graded by hand)", "## Open questions (2 points, graded by hand)"),
        "states 2 points but its answer cells are worth 1",
    ),
    ("one recap", _replace("## Recap", "## Summary"), "needs exactly one '## Recap' heading (found 0)"),
    ("recap last", _recap_before_open_questions, "'## Recap' must come after every exercise and the open questions"),
    ("one title", _second_title, "only the first cell has a '# ' title"),
]


@pytest.mark.parametrize("stem", solution_stems(ROOT))
def test_every_solution_notebook_is_in_frame(stem: str) -> None:
    problems = frame_problems(stem, read_notebook(ROOT / "solutions" / f"{stem}.ipynb"))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(("rule", "edit", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_frame_rule_catches_a_broken_copy_of_a_real_notebook(rule: str, edit, expected: str) -> None:
    nb = copy.deepcopy(REAL)
    assert frame_problems(STEM, nb) == []
    edit(nb)
    problems = frame_problems(STEM, nb)
    assert any(expected in p for p in problems), f"rule {rule!r} not reported; got:\n" + "\n".join(problems)
    assert all(p.startswith(f"solutions/{STEM}.ipynb") for p in problems)


def _repo_copy(tmp_path: Path) -> Path:
    """solutions/, README.md and docs/self_study.md of the checkout, with the student copies released."""
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "docs" / "results", tmp_path / "docs" / "results")  # the runs the recaps quote
    for rel in tables.TABLES:
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    write_release(root=tmp_path)
    return tmp_path


def test_changing_notebook_metadata_makes_check_report_both_tables_stale(tmp_path: Path, capsys) -> None:
    root = _repo_copy(tmp_path)
    assert main(["--check", "--root", str(root)]) == 0
    path = root / "solutions" / f"{STEM}.ipynb"
    nb = read_notebook(path)
    nb.metadata.course["summary"] = "a new summary of notebook 00"
    nbformat.write(nb, str(path))
    capsys.readouterr()
    assert main(["--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "README.md: the notebook table is out of date" in out, out
    assert "docs/self_study.md: the notebook table is out of date" in out, out
    write_release(root=root)
    assert "a new summary of notebook 00" in (root / "README.md").read_text()
    assert "a new summary of notebook 00" in (root / "docs" / "self_study.md").read_text()
    assert main(["--check", "--root", str(root)]) == 0


def test_a_lost_table_marker_is_reported_not_ignored(tmp_path: Path) -> None:
    root = _repo_copy(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace(tables.end_marker("notebooks"), ""))
    problems = tables.table_problems(root, solution_stems(root))
    assert any("README.md needs exactly one generated table 'notebooks'" in p for p in problems), problems
