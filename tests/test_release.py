"""The student release: generated from solutions/, stripped of answers and hidden tests, reproducible, checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.suite import Suite
from autograder.tools.release import (
    CODE_STUB,
    ROOT,
    TEXT_STUB,
    check_repo,
    main,
    read_notebook,
    release_text,
    solution_stems,
    validate_source,
    write_release,
)

STEM = "98_synthetic"
REAL_STEMS = solution_stems(ROOT)


def _meta(**kw) -> dict:
    return {"nbgrader": {"schema_version": 3, **kw}}


def synthetic_solution(stem: str = STEM) -> nbformat.NotebookNode:
    """A small notebook that follows docs/AUTHORING.md: setup, imports, one exercise, one open question."""
    cells = [
        new_markdown_cell(
            "# 98 · Synthetic\n\n**Goals**\n- double a number.\n\n**Contents**: Exercise 1: "
            "double (2 points) · Open questions (1 point, graded by hand) · Recap.\n\n"
            "**Expected run time**: under 1 s the first time, under 1 s on a re-run; full size 1 s.",
            id="s-title",
        ),
        new_code_cell(
            "COURSE_VERSION = '0.1.0'\nimport course_lib",
            id="s-setup",
            metadata=_meta(grade=False, solution=False, locked=True, grade_id="setup"),
        ),
        new_code_cell(
            "import torch\nimport course_lib as cl",
            id="s-imports",
            metadata=_meta(grade=False, solution=False, locked=True, grade_id="imports"),
        ),
        new_markdown_cell(
            "## Exercise 1: double (2 points)\n\n**Goal**: twice x.\n**Expected result**: double(2) == 4.", id="s-ex1"
        ),
        new_code_cell(
            'def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    y = 2 * x\n'
            "    return y\n    ### END SOLUTION",
            id="s-double",
            metadata=_meta(grade=False, solution=True, locked=False, grade_id="double_impl"),
        ),
        new_code_cell(
            "assert double(2) == 4, 'visible check'\ncl.checks.passed('double')\n"
            "### BEGIN HIDDEN TESTS\nfrom autograder.suite import run_cell\n"
            f"run_cell('{stem}', 'test_double', globals())\n### END HIDDEN TESTS",
            id="s-test",
            metadata=_meta(grade=True, solution=False, locked=True, points=2, grade_id="test_double"),
        ),
        new_code_cell("print(double(21))", id="s-demo"),
        new_markdown_cell("## Open questions (1 point, graded by hand)", id="s-q"),
        new_markdown_cell(
            "Because the model answer says so.",
            id="s-answer",
            metadata=_meta(grade=True, solution=True, locked=False, points=1, grade_id="answer_why"),
        ),
        new_markdown_cell("## Recap\n\n- double doubles.", id="s-recap"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.course = {
        "stem": stem,
        "version": "0.1.0",
        "title": "synthetic",
        "summary": "doubling",
        "working_time": "1 min",
        "run_time": {"small_first": "under 1 s", "small_rerun": "under 1 s", "full_t4": "1 s"},
    }
    return nb


def synthetic_suite(points=(1.5, 0.5)) -> Suite:
    suite = Suite(STEM)
    for i, p in enumerate(points):

        def test(student):  # pragma: no cover - never run here
            pass

        test.__name__ = f"double_{i}"
        suite.test(grade_id="test_double", points=p, uses=("double",))(test)
    return suite


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    """A tiny repository with one synthetic solution notebook and its generated release."""
    (tmp_path / "solutions").mkdir()
    nbformat.write(synthetic_solution(), str(tmp_path / "solutions" / f"{STEM}.ipynb"))
    write_release(root=tmp_path, suite=synthetic_suite())
    return tmp_path


def test_release_check_passes_on_the_repo() -> None:
    assert REAL_STEMS, "no solution notebooks in solutions/"
    problems = check_repo(ROOT)
    assert not problems, "python -m autograder release --check fails:\n" + "\n".join(problems)


def test_generator_strips_solutions_and_hidden_tests_and_keeps_visible_checks(course: Path) -> None:
    nb = read_notebook(course / "notebooks" / f"{STEM}.ipynb")
    cells = {c.id: c for c in nb.cells}
    text = (course / "notebooks" / f"{STEM}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "run_cell", "y = 2 * x", "model answer"):
        assert marker not in text, marker
    # the stub sits at the solution's indentation, below the kept signature and docstring
    assert cells["s-double"].source == 'def double(x):\n    """Twice x."""\n' + "\n".join(
        "    " + line for line in CODE_STUB.split("\n")
    )
    assert "assert double(2) == 4" in cells["s-test"].source and "cl.checks.passed('double')" in cells["s-test"].source
    assert cells["s-answer"].source == TEXT_STUB
    assert cells["s-demo"].source == "print(double(21))"
    # nbgrader metadata as generate_assignment writes it
    for cid in ("s-setup", "s-imports", "s-test"):
        assert cells[cid].metadata["editable"] is False and cells[cid].metadata["deletable"] is False
        assert cells[cid].metadata["nbgrader"]["checksum"]
    assert cells["s-double"].metadata["nbgrader"]["cell_type"] == "code"
    assert cells["s-answer"].metadata["nbgrader"]["cell_type"] == "markdown"
    assert "editable" not in cells["s-double"].metadata
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert [c.id for c in nb.cells] == [c.id for c in synthetic_solution().cells]


def test_release_is_idempotent(course: Path) -> None:
    path = course / "notebooks" / f"{STEM}.ipynb"
    first = path.read_bytes()
    write_release(root=course, suite=synthetic_suite())
    assert path.read_bytes() == first
    assert release_text(STEM, course).encode() == first
    assert json.loads(first)["nbformat"] == 4
    assert check_repo(course, suite=synthetic_suite()) == []


def test_check_catches_injected_problems(course: Path) -> None:
    student = course / "notebooks" / f"{STEM}.ipynb"
    source = course / "solutions" / f"{STEM}.ipynb"
    suite = synthetic_suite()

    nb = read_notebook(student)
    nb.cells[4].source += "\n### BEGIN SOLUTION\nleaked = True\n### END SOLUTION"
    nbformat.write(nb, str(student))
    problems = check_repo(course, suite=suite)
    assert any("leftover '### BEGIN SOLUTION'" in p for p in problems), problems
    assert any("out of date" in p and "s-double" in p for p in problems), problems

    write_release(root=course, suite=suite, force=True)  # the edited solution cell counts as work: force
    nb = read_notebook(student)
    nb.cells[6].outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    nb.cells[6].execution_count = 3
    nbformat.write(nb, str(student))
    problems = check_repo(course, suite=suite)
    assert any("committed outputs" in p and f"notebooks/{STEM}" in p for p in problems), problems

    write_release(root=course, suite=suite, force=True)  # outputs count as work too
    sol = read_notebook(source)
    sol.cells[5].execution_count = 1
    nbformat.write(sol, str(source))
    assert any("committed outputs" in p and f"solutions/{STEM}" in p for p in check_repo(course, suite=suite))

    nbformat.write(synthetic_solution(), str(source))
    student.unlink()
    assert any("is missing" in p for p in check_repo(course, suite=suite))
    write_release(root=course, suite=suite)
    shutil.copyfile(student, course / "notebooks" / "97_orphan.ipynb")
    assert any("97_orphan" in p and "no source" in p for p in check_repo(course, suite=suite))


def test_source_validation_reports_clear_problems() -> None:
    nb = synthetic_solution()
    assert validate_source(nb, STEM, synthetic_suite()) == []
    problems = validate_source(nb, STEM, synthetic_suite(points=(1.0, 0.5)))
    assert any("worth 2 points but its hidden tests sum to 1.5" in p for p in problems), problems

    bad = synthetic_solution()
    bad.cells[4].source = "def double(x):\n    return 2 * x"  # no stub region
    bad.cells[2].metadata["nbgrader"]["grade_id"] = "setup"  # duplicate grade_id
    bad.cells[5].source = bad.cells[5].source.replace("test_double'", "test_other'")
    bad.cells[6].id = "s-demo"
    bad.cells[7].id = "s-demo"  # duplicate cell id
    problems = "\n".join(validate_source(bad, STEM, synthetic_suite()))
    assert "has no '### BEGIN SOLUTION' region" in problems
    assert "grade_id 'setup' repeats" in problems
    assert "run_cell('98_synthetic', 'test_double'" in problems
    assert "cell id 's-demo' repeats" in problems

    problems = validate_source(synthetic_solution(), STEM, Suite(STEM))
    assert any("no hidden tests" in p for p in problems)
    wrong_stem = validate_source(synthetic_solution(), "97_other", None)
    assert any("course.stem" in p for p in wrong_stem)


def test_write_release_refuses_an_invalid_source(tmp_path: Path) -> None:
    from autograder.tools.release import ReleaseError

    (tmp_path / "solutions").mkdir()
    nb = synthetic_solution()
    nb.cells[4].source = nb.cells[4].source.replace("    ### END SOLUTION", "")
    nbformat.write(nb, str(tmp_path / "solutions" / f"{STEM}.ipynb"))
    with pytest.raises(ReleaseError, match="without '### END SOLUTION'"):
        write_release(root=tmp_path, suite=synthetic_suite())
    assert not (tmp_path / "notebooks" / f"{STEM}.ipynb").exists()


@pytest.mark.skipif(not REAL_STEMS, reason="no solution notebooks yet")
def test_cli_check_fails_on_a_leftover_marker_in_a_copy_of_the_repo(tmp_path: Path, capsys) -> None:
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "docs" / "results", tmp_path / "docs" / "results")  # the runs the recaps quote
    write_release(root=tmp_path)
    assert main(["--check", "--root", str(tmp_path)]) == 0
    path = tmp_path / "notebooks" / f"{REAL_STEMS[0]}.ipynb"
    nb = read_notebook(path)
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    test_cell.source += "\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"
    nbformat.write(nb, str(path))
    capsys.readouterr()
    assert main(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "release check FAILED" in out and "leftover '### BEGIN HIDDEN TESTS'" in out


def test_cli_dispatcher(capsys) -> None:
    from autograder.__main__ import COMMANDS
    from autograder.__main__ import main as cli

    assert cli(["--help"]) == 0 and "release" in capsys.readouterr().out
    assert cli([]) == 2
    assert cli(["no-such-command"]) == 2 and "unknown command" in capsys.readouterr().err
    assert set(COMMANDS) >= {"release", "nbgrader-course", "samples", "execute", "grade", "report"}
    with pytest.raises(SystemExit) as exit_info:
        cli(["release", "--help"])
    assert exit_info.value.code == 0
