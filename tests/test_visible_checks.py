"""Every visible check stands alone: it passes with only its own exercise done, and says kindly when it is not.

A learner who skips the hardest exercise must still see "public checks passed" on the easy ones. For each
notebook, this test runs the student copy (the release, every exercise a stub) top to bottom in one kernel, and
at each exercise's visible-check cell:

1. runs the check as the learner first meets it, its exercise still a stub: it must stop with
   `cl.checks.ExerciseNotDone` saying "exercise N is not done yet" (not a NameError, not another exercise's stub);
2. defines the solution of that exercise (and of the graded functions the solution itself calls, as the hidden
   tests' probes do: a student's `threshold_sweep` may use their own `entropy`), runs the check again: it must print
   "public checks passed" with no error;
3. puts the stubs back and forgets every name that only the solved check defined, so that every later cell (demos,
   given code, the next checks) runs as for a learner who skipped this exercise: a later check that needs a variable
   computed from another exercise (its check or its demo) fails here.

Cells other than checks run as they come, errors allowed (a demo of an unfinished exercise fails, as it would for
the learner).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder.tools.release import (
    defined_names,
    is_solution_cell,
    is_test_cell,
    make_release,
    read_notebook,
    solution_stems,
)

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
EXERCISE_HEADING = re.compile(r"^#+\s*Exercise\s+(\d+)\b", re.MULTILINE)


@dataclass
class Exercise:
    """One graded exercise of a notebook: its number, the functions its solution cell defines, its cells."""

    number: int
    functions: list[str]
    solution_index: int
    check_index: int | None = None
    calls: set[str] = field(default_factory=set)


def exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The code exercises of a solution notebook, in order, with the check cell that follows each."""
    found: list[Exercise] = []
    number = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            match = EXERCISE_HEADING.search(cell.source)
            if match:
                number = int(match.group(1))
            continue
        if cell.cell_type != "code":
            continue
        if is_solution_cell(cell):
            names = [n for n in defined_names(cell.source) if not n.startswith("_")]
            found.append(Exercise(number, names, index))
        elif is_test_cell(cell) and found and found[-1].check_index is None:
            found[-1].check_index = index
    graded = {name for ex in found for name in ex.functions}
    for ex in found:
        tree = ast.parse(nb.cells[ex.solution_index].source)
        ex.calls = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & graded - set(ex.functions)
    return found


def _with_dependencies(ex: Exercise, by_function: dict[str, Exercise]) -> list[Exercise]:
    """`ex` and, transitively, the exercises whose functions its solution calls (in notebook order)."""
    todo, seen = [ex], {ex.solution_index: ex}
    while todo:
        for name in todo.pop().calls:
            dep = by_function[name]
            if dep.solution_index not in seen:
                seen[dep.solution_index] = dep
                todo.append(dep)
    return [seen[i] for i in sorted(seen)]


def _outputs_text(cell: nbformat.NotebookNode) -> tuple[str, list[tuple[str, str]]]:
    """(stdout text, [(ename, evalue)]) of an executed cell."""
    stdout, errors = [], []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            stdout.append(out.text)
        elif out.output_type == "error":
            errors.append((out.ename, out.evalue))
    return "".join(stdout), errors


FORGET_SOLVED_NAMES = """\
for _name in [n for n in globals() if n not in _names_before_solving and n != "_names_before_solving"]:
    del globals()[_name]
globals().pop("_name", None)
del _names_before_solving
"""


def _code_cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


@pytest.mark.parametrize("stem", solution_stems(ROOT))
def test_every_visible_check_stands_alone(stem: str, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    solution = read_notebook(ROOT / "solutions" / f"{stem}.ipynb")
    student = make_release(solution)
    assert len(student.cells) == len(solution.cells), "the release changed the number of cells"
    found = exercises(solution)
    assert found, f"{stem}: no exercise found"
    by_check = {ex.check_index: ex for ex in found if ex.check_index is not None}
    by_function = {name: ex for ex in found for name in ex.functions}
    problems = [
        f"exercise {ex.number} ({', '.join(ex.functions)}): no visible check cell"
        for ex in found
        if ex.check_index is None
    ]

    client = NotebookClient(
        student,
        timeout=900,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    with client.setup_kernel():
        for index, cell in enumerate(student.cells):
            if cell.cell_type != "code":
                continue
            ex = by_check.get(index)
            if ex is None:
                client.execute_cell(cell, index)
                continue
            label = f"exercise {ex.number} ({', '.join(ex.functions)}), check cell {index}"
            first = copy.deepcopy(cell)
            client.execute_cell(first, index)
            _, errors = _outputs_text(first)
            expected = f"exercise {ex.number} is not done yet"
            if not any(name == "ExerciseNotDone" and expected in value for name, value in errors):
                got = "; ".join(f"{n}: {v.splitlines()[0] if v else ''}" for n, v in errors) or "no error"
                problems.append(f"{label}, exercise still a stub: expected ExerciseNotDone '{expected}', got {got}")
            needed = _with_dependencies(ex, by_function)
            client.execute_cell(_code_cell("_names_before_solving = set(globals())"), index)
            client.execute_cell(_code_cell("\n\n".join(solution.cells[d.solution_index].source for d in needed)), index)
            second = copy.deepcopy(cell)
            client.execute_cell(second, index)
            stdout, errors = _outputs_text(second)
            if errors or "public checks passed" not in stdout:
                got = "; ".join(f"{n}: {v.splitlines()[0] if v else ''}" for n, v in errors) or "no 'passed' line"
                problems.append(f"{label}, exercise solved, the others stubs: {got}")
            client.execute_cell(_code_cell("\n\n".join(student.cells[d.solution_index].source for d in needed)), index)
            # forget what only the solved check defined: a learner who skipped this exercise never has it
            forget = _code_cell(FORGET_SOLVED_NAMES)
            client.execute_cell(forget, index)
            assert not _outputs_text(forget)[1], f"{label}: the harness could not forget the solved names"
    assert not problems, f"{stem}: visible checks that do not stand alone:\n  " + "\n  ".join(problems)


CHECK_LINE_LIMIT = 100  # characters: what JupyterLab's notebook column shows at 1280 px without cutting


@pytest.mark.parametrize("stem", solution_stems(ROOT))
def test_visible_checks_are_framed_and_fit_the_column(stem: str) -> None:
    """Each check cell uses `cl.checks.exercise(N, ...)` with its exercise's number; no line is wider than the column."""
    solution = read_notebook(ROOT / "solutions" / f"{stem}.ipynb")
    problems = []
    for ex in exercises(solution):
        if ex.check_index is None:
            continue
        visible = solution.cells[ex.check_index].source.partition("### BEGIN HIDDEN TESTS")[0]
        if f"cl.checks.exercise({ex.number}," not in visible:
            problems.append(f"check cell {ex.check_index}: no `with cl.checks.exercise({ex.number}, ...)`")
        for number, line in enumerate(visible.splitlines(), 1):
            if len(line) > CHECK_LINE_LIMIT:
                problems.append(f"check cell {ex.check_index}, line {number}: {len(line)} characters")
    assert not problems, f"{stem}:\n  " + "\n  ".join(problems)
