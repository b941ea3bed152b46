"""Sample submissions for every notebook stem, with the exact points each one must get.

    python -m autograder samples OUT [--stems ...]

writes OUT/<student>/<stem>.ipynb for these students and OUT/expected.json:

| student            | what it is                                                                  | expected (autograded points)            |
|--------------------|-----------------------------------------------------------------------------|-----------------------------------------|
| reference          | the student copy with every solution cell and answer filled in from solutions/ | full marks                           |
| untouched          | the student copy as released                                                | 0, every test "not attempted"           |
| partial            | the student copy with the first half of the graded solution cells filled    | the points of tests using only those    |
| infinite_loop      | reference, but the last graded function's body loops forever                | full minus that function's tests ("timeout") |
| import_error       | reference plus a new first code cell raising ModuleNotFoundError           | full marks: the error is reported, the  |
|                    |                                                                             | remaining cells still run (as nbgrader) |
| deleted_test_cell  | reference without its first test cell                                       | full marks (hidden tests do not live in the notebook) |
| stripped_metadata  | reference with all nbgrader cell metadata removed (as some editors do)      | full marks                              |

Points count the autograded hidden tests only; manually graded answers (markdown answer cells) are
listed separately under "manual_points". The student copy is notebooks/<stem>.ipynb when it exists,
else it is generated in memory from solutions/<stem>.ipynb.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.suite import Suite, load_suite
from autograder.tools.release import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    ROOT,
    ReleaseError,
    defined_names,
    is_answer_cell,
    is_solution_cell,
    is_test_cell,
    make_release,
    nbgrader_meta,
    notebook_json,
    read_notebook,
    solution_stems,
)

__all__ = ["STUDENTS", "fill_cells", "graded_solution_cells", "build_samples", "expected_for", "write_samples", "main"]

STUDENTS = (
    "reference",
    "untouched",
    "partial",
    "infinite_loop",
    "import_error",
    "deleted_test_cell",
    "stripped_metadata",
)
IMPORT_ERROR_CELL_ID = "sample-import-error"
IMPORT_ERROR_SOURCE = (
    "# A student's leftover experiment: this module does not exist.\nimport course_lib_extras_that_do_not_exist"
)
LOOP_BODY = "while True:  # the student's loop never terminates\n    pass"

NOTES = {
    "reference": "student copy with every solution and answer cell filled from solutions/: full marks",
    "untouched": "the released student copy: 0 points, every test 'not attempted'",
    "partial": "the first half of the graded solution cells filled: exactly the tests whose functions are all filled",
    "infinite_loop": "the last graded function loops forever when called: its tests time out, the rest pass",
    "import_error": "a new first code cell raises ModuleNotFoundError; a tolerant grader reports the cell error "
    "and runs the remaining cells (nbgrader does the same with allow_errors): full marks",
    "deleted_test_cell": "the first test cell was deleted; hidden tests run from autograder/course: full marks "
    "(stock nbgrader restores the cell with OverwriteCells.add_missing_cells = True)",
    "stripped_metadata": "every cell's nbgrader metadata removed; the course's grader finds the functions by "
    "name: full marks (stock nbgrader cannot grade this one)",
}


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def graded_solution_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The solution code cells of a notebook, in document order."""
    return [c for c in nb.cells if is_solution_cell(c)]


def fill_cells(
    student: NotebookNode, solution: NotebookNode, grade_ids: Iterable[str] | None = None, answers: bool = True
) -> NotebookNode:
    """A copy of `student` whose solution cells (all, or those in `grade_ids`) hold the solution's code.

    Cells are matched by nbgrader grade_id; the solution markers are dropped, the student's metadata
    (checksums included) is kept, as when a student types the answer in.
    """
    wanted = set(grade_ids) if grade_ids is not None else None
    by_gid = {nbgrader_meta(c).get("grade_id"): c for c in solution.cells if nbgrader_meta(c).get("grade_id")}
    out = copy.deepcopy(student)
    for cell in out.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        source = by_gid.get(gid)
        if source is None:
            continue
        if is_solution_cell(cell) and (wanted is None or gid in wanted):
            cell.source = _strip_markers(source.source)
        elif answers and is_answer_cell(cell) and wanted is None:
            cell.source = source.source
    return out


def _stuck(cell: NotebookNode) -> NotebookNode:
    """The solution cell with its solution region replaced by an endless loop (same indentation)."""
    lines, out, inside = cell.source.split("\n"), [], False
    for line in lines:
        text = line.strip()
        if text == BEGIN_SOLUTION:
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + part for part in LOOP_BODY.split("\n")]
            inside = True
        elif text == END_SOLUTION:
            inside = False
        elif not inside:
            out.append(line)
    new = copy.deepcopy(cell)
    new.source = "\n".join(out)
    return new


def _suite_names(suite: Suite) -> set[str]:
    return {name for t in suite.tests for name in t.uses}


def build_samples(stem: str, root: Path = ROOT) -> tuple[dict[str, NotebookNode], dict]:
    """The sample notebooks of one stem and what was done to them (filled/stuck function names)."""
    root = Path(root)
    solution = read_notebook(root / "solutions" / f"{stem}.ipynb")
    released = root / "notebooks" / f"{stem}.ipynb"
    student = read_notebook(released) if released.exists() else make_release(solution)
    sol_cells = graded_solution_cells(solution)
    if not sol_cells:
        raise ReleaseError(f"solutions/{stem}.ipynb has no solution cells")
    gids = [nbgrader_meta(c)["grade_id"] for c in sol_cells]
    half = max(1, len(gids) // 2)
    partial_gids = gids[:half]
    partial_names = sorted({n for c in sol_cells[:half] for n in defined_names(c.source)})

    reference = fill_cells(student, solution)
    samples: dict[str, NotebookNode] = {
        "reference": reference,
        "untouched": copy.deepcopy(student),
        "partial": fill_cells(student, solution, partial_gids, answers=False),
    }

    loop_cell = sol_cells[-1]
    loop_names = defined_names(loop_cell.source)
    looping = copy.deepcopy(reference)
    for i, cell in enumerate(looping.cells):
        if nbgrader_meta(cell).get("grade_id") == nbgrader_meta(loop_cell)["grade_id"]:
            stuck = _stuck(loop_cell)
            stuck.metadata = cell.metadata
            stuck.id = cell.get("id")
            looping.cells[i] = stuck
    samples["infinite_loop"] = looping

    broken = copy.deepcopy(reference)
    first_code = next(i for i, c in enumerate(broken.cells) if c.cell_type == "code")
    broken.cells.insert(first_code, nbformat.v4.new_code_cell(IMPORT_ERROR_SOURCE, id=IMPORT_ERROR_CELL_ID))
    samples["import_error"] = broken

    deleted = copy.deepcopy(reference)
    first_test = next((i for i, c in enumerate(deleted.cells) if is_test_cell(c)), None)
    if first_test is None:
        raise ReleaseError(f"solutions/{stem}.ipynb has no test cell")
    deleted_gid = nbgrader_meta(deleted.cells[first_test]).get("grade_id")
    del deleted.cells[first_test]
    samples["deleted_test_cell"] = deleted

    stripped = copy.deepcopy(reference)
    for cell in stripped.cells:
        for key in ("nbgrader", "deletable", "editable"):
            cell.metadata.pop(key, None)
    samples["stripped_metadata"] = stripped

    info = {
        "partial_filled": partial_names,
        "infinite_loop_in": loop_names,
        "deleted_test_cell": deleted_gid,
        "manual_points": sum(float(nbgrader_meta(c).get("points", 0)) for c in solution.cells if is_answer_cell(c)),
    }
    return samples, info


def expected_for(suite: Suite, info: dict) -> dict[str, dict[str, str]]:
    """Expected state of every hidden test, per student, from the suite's declared `uses`."""
    partial = set(info["partial_filled"])
    loop = set(info["infinite_loop_in"])
    states: dict[str, dict[str, str]] = {}
    for student in STUDENTS:
        per_test = {}
        for t in suite.tests:
            uses = set(t.uses)
            if student == "untouched":
                state = "not attempted"
            elif student == "partial":
                state = "passed" if uses <= partial else "not attempted"
            elif student == "infinite_loop":
                state = "timeout" if uses & loop else "passed"
            else:
                state = "passed"
            per_test[t.name] = state
        states[student] = per_test
    return states


def write_samples(out: Path | str, stems: Iterable[str] | None = None, root: Path = ROOT) -> dict:
    """Write OUT/<student>/<stem>.ipynb and OUT/expected.json; return the expected dict."""
    out = Path(out)
    root = Path(root)
    stems = list(stems) if stems is not None else solution_stems(root)
    expected: dict = {
        "students": list(STUDENTS),
        "stems": [],
        "max_points": {},
        "manual_points": {},
        "points": {s: {} for s in STUDENTS},
        "states": {s: {} for s in STUDENTS},
        "details": {},
        "notes": dict(NOTES),
        "layout": "OUT/<student>/<stem>.ipynb; points count autograded hidden tests only",
    }
    skipped = []
    for stem in stems:
        try:
            suite = load_suite(stem)
        except FileNotFoundError:
            skipped.append(stem)
            continue
        samples, info = build_samples(stem, root)
        unknown = (set(info["partial_filled"]) | set(info["infinite_loop_in"])) - _suite_names(suite)
        states = expected_for(suite, info)
        points = {t.name: t.points for t in suite.tests}
        expected["stems"].append(stem)
        expected["max_points"][stem] = suite.max_points
        expected["manual_points"][stem] = info["manual_points"]
        expected["details"][stem] = {**info, "names_not_in_any_test": sorted(unknown)}
        for student, nb in samples.items():
            folder = out / student
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{stem}.ipynb").write_text(notebook_json(nb), encoding="utf-8")
            expected["states"][student][stem] = states[student]
            expected["points"][student][stem] = sum(points[n] for n, s in states[student].items() if s == "passed")
    expected["skipped_stems_without_hidden_tests"] = skipped
    out.mkdir(parents=True, exist_ok=True)
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return expected


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder samples OUT [--stems ...]`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autograder samples", description="Write sample submissions and their expected points."
    )
    parser.add_argument("out", type=Path, help="output folder (OUT/<student>/<stem>.ipynb, OUT/expected.json)")
    parser.add_argument("--stems", nargs="+", help="notebook stems (default: every solution notebook)")
    args = parser.parse_args(argv)
    try:
        expected = write_samples(args.out, args.stems)
    except (ReleaseError, FileNotFoundError) as err:
        print(f"samples FAILED: {err}")
        return 1
    width = max(len(s) for s in STUDENTS)
    print(f"wrote {len(STUDENTS)} samples x {len(expected['stems'])} stem(s) to {args.out}")
    print(f"{'student':<{width}}  " + "  ".join(f"{s:>16}" for s in expected["stems"]))
    for student in STUDENTS:
        row = [f"{expected['points'][student][s]:g}/{expected['max_points'][s]:g}" for s in expected["stems"]]
        print(f"{student:<{width}}  " + "  ".join(f"{r:>16}" for r in row))
    if expected["skipped_stems_without_hidden_tests"]:
        print(
            "skipped (no autograder/course/<stem>/tests.py yet): "
            + ", ".join(expected["skipped_stems_without_hidden_tests"])
        )
    return 0
