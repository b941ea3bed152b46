"""Sample submissions: written for every stem, and expected.json agrees with the hidden suites."""

from __future__ import annotations

import ast
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from autograder import content
from autograder.student import LocalStudent
from autograder.suite import load_suite, run_suite
from autograder.tools.release import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    ROOT,
    is_test_cell,
    nbgrader_meta,
    read_notebook,
    solution_stems,
)
from autograder.tools.samples import IMPORT_ERROR_CELL_ID, STUDENTS, write_samples

STEMS = [s for s in solution_stems(ROOT) if content.has(s, "tests")]
pytestmark = pytest.mark.skipif(not STEMS, reason="no solution notebook with hidden tests yet")


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("samples")
    expected = write_samples(out, STEMS)
    return out, expected


def test_every_sample_is_written(samples) -> None:
    out, expected = samples
    assert expected["stems"] == STEMS
    on_disk = json.loads((out / "expected.json").read_text())
    assert on_disk["points"] == expected["points"]
    for student in STUDENTS:
        for stem in STEMS:
            nb = read_notebook(out / student / f"{stem}.ipynb")
            text = "\n".join(c.source for c in nb.cells)
            assert BEGIN_SOLUTION not in text and BEGIN_HIDDEN not in text, (student, stem)


@pytest.mark.parametrize("stem", STEMS)
def test_expected_points_follow_the_suite(samples, stem: str) -> None:
    out, expected = samples
    suite = load_suite(stem)
    points = {t.name: t.points for t in suite.tests}
    full = suite.max_points
    for student in STUDENTS:
        states = expected["states"][student][stem]
        assert set(states) == set(points), student
        assert expected["points"][student][stem] == pytest.approx(
            sum(points[n] for n, s in states.items() if s == "passed")
        )
    p = {s: expected["points"][s][stem] for s in STUDENTS}
    assert p["reference"] == p["import_error"] == p["deleted_test_cell"] == p["stripped_metadata"] == full
    assert p["untouched"] == 0 and set(expected["states"]["untouched"][stem].values()) == {"not attempted"}
    details = expected["details"][stem]
    filled = set(details["partial_filled"])
    assert p["partial"] == pytest.approx(sum(t.points for t in suite.tests if set(t.uses) <= filled))
    assert 0 < p["partial"] < full
    stuck = set(details["infinite_loop_in"])
    assert p["infinite_loop"] == pytest.approx(full - sum(t.points for t in suite.tests if set(t.uses) & stuck))
    assert "timeout" in expected["states"]["infinite_loop"][stem].values()


@pytest.mark.parametrize("stem", STEMS)
def test_broken_samples_are_broken_as_described(samples, stem: str) -> None:
    out, expected = samples
    details = expected["details"][stem]
    ref = read_notebook(out / "reference" / f"{stem}.ipynb")
    untouched = read_notebook(out / "untouched" / f"{stem}.ipynb")
    partial = read_notebook(out / "partial" / f"{stem}.ipynb")
    changed = [c.id for c, u in zip(partial.cells, untouched.cells, strict=True) if c.source != u.source]
    assert changed and all(nbgrader_meta(c).get("solution") for c in partial.cells if c.id in changed)
    assert len(read_notebook(out / "deleted_test_cell" / f"{stem}.ipynb").cells) == len(ref.cells) - 1
    assert sum(is_test_cell(c) for c in ref.cells) - 1 == sum(
        is_test_cell(c) for c in read_notebook(out / "deleted_test_cell" / f"{stem}.ipynb").cells
    )
    broken = read_notebook(out / "import_error" / f"{stem}.ipynb")
    first_code = next(c for c in broken.cells if c.cell_type == "code")
    assert first_code.id == IMPORT_ERROR_CELL_ID
    stripped = read_notebook(out / "stripped_metadata" / f"{stem}.ipynb")
    assert all("nbgrader" not in c.metadata for c in stripped.cells)
    assert [c.source for c in stripped.cells] == [c.source for c in ref.cells]
    loop = read_notebook(out / "infinite_loop" / f"{stem}.ipynb")
    looping = [c for c in loop.cells if "while True" in c.source]
    assert len(looping) == 1 and set(details["infinite_loop_in"]) <= {
        n.name for n in ast.parse(looping[0].source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    }


def _namespace(nb) -> dict:
    """Run the cells a grader would (imports/definitions, not test cells) in a fresh namespace."""
    namespace: dict = {"__name__": "__student__"}
    for cell in nb.cells:
        if cell.cell_type != "code" or is_test_cell(cell) or "cl.checks.passed(" in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if not any(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) for n in tree.body):
            continue
        try:
            with redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<cell {cell.get('id')}>", "exec"), namespace)
        except Exception:  # noqa: BLE001 - a sample's broken cell (e.g. import_error's first) is the point
            pass
    return namespace


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("student", ["partial", "stripped_metadata", "import_error"])
def test_expected_states_hold_when_the_hidden_tests_run(samples, stem: str, student: str) -> None:
    out, expected = samples
    namespace = _namespace(read_notebook(out / student / f"{stem}.ipynb"))
    results = run_suite(stem, LocalStudent(namespace))
    got = {r.test: r.state for r in results}
    assert got == expected["states"][student][stem], {r.test: r.message for r in results if r.state != "passed"}
