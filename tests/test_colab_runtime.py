"""The real setup cell of every student notebook, run in a simulated fresh Colab runtime (tests/colab_runtime.py).

For each notebook: a runtime without the course package, the install source pointed at a wheel of this checkout
(COURSE_INSTALL, as an instructor hosting a wheel would do), the notebook's own setup and imports cells, one
exercise filled with its worked solution, then `check()` on it. Nothing the runtime had before may change
version. The failure path: an unreachable install source gives one clear message and no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.tools.release import ROOT, build_wheel, is_solution_cell, is_test_cell, read_notebook, solution_stems
from colab_runtime import Runtime, cell_text, colab_runtime, errors, run_cells

pytestmark = [pytest.mark.slow, pytest.mark.colab]
STEMS = solution_stems(ROOT)


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return colab_runtime()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def _cell(nb, grade_id: str) -> str:
    return next(c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _first_exercise(stem: str) -> tuple[str, str]:
    """(grade_id of its test cell, worked solution without the solution markers) of the notebook's first exercise."""
    cells = read_notebook(ROOT / "solutions" / f"{stem}.ipynb").cells
    index, cell = next((i, c) for i, c in enumerate(cells) if is_solution_cell(c))
    test_id = next(c.metadata["nbgrader"]["grade_id"] for c in cells[index:] if is_test_cell(c))
    source = "\n".join(
        line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
    )
    return test_id, source


def test_every_notebook_installs_and_self_checks_in_a_fresh_colab_runtime(
    runtime: Runtime, wheel: Path, tmp_path: Path
) -> None:
    print(f"simulated Colab runtime: Python {runtime.version} ({runtime.python})")
    before = runtime.packages()
    assert "dynamic-inference-course" not in before and "nbgrader" not in before
    for stem in STEMS:
        runtime.uninstall_course()  # every Colab notebook starts in a fresh runtime
        student = read_notebook(ROOT / "notebooks" / f"{stem}.ipynb")
        name, solved = _first_exercise(stem)
        nb = run_cells(
            runtime,
            [
                f"%env COURSE_INSTALL={wheel}",
                _cell(student, "setup"),
                _cell(student, "imports"),
                solved,
                "from autograder.tools.selfcheck import check\n"
                f"report = check(exercise={name!r})\n"
                "assert report.results and all(s == 'passed' for s in report.states.values()), report.states\n"
                "print('SELF-CHECK OK', report)",
            ],
            tmp_path / stem,
        )
        shown = [cell_text(cell) for cell in nb.cells]
        for index, cell in enumerate(nb.cells):
            assert not errors(cell), f"{stem}: cell {index} failed in the simulated runtime:\n{shown[index][-3000:]}"
        assert f"[{stem}] run size: small" in shown[1] and "course_lib 0.1" in shown[1], shown[1]
        assert "SELF-CHECK OK" in shown[4], shown[4]
    after = runtime.packages()
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert not changed, f"the setup cells changed preinstalled packages (before, after): {changed}"


def test_unreachable_install_source_gives_one_clear_message(runtime: Runtime, tmp_path: Path) -> None:
    runtime.uninstall_course()
    student = read_notebook(ROOT / "notebooks" / "00_orientation.ipynb")
    nb = run_cells(
        runtime,
        ["%env COURSE_INSTALL=git+http://127.0.0.1:9/nowhere/course-kit.git@v0.1.0", _cell(student, "setup")],
        tmp_path,
        timeout=300,
    )
    found = errors(nb.cells[1])
    assert len(found) == 1, cell_text(nb.cells[1])
    shown = "\n".join(found[0].traceback)
    assert found[0].ename == "CourseInstallError"
    assert shown.startswith("Could not install the course package") and "127.0.0.1:9" in shown
    assert "%env COURSE_INSTALL=" in shown and "Full pip output:" in shown
    assert "Traceback" not in shown and 'File "' not in shown and "subprocess" not in shown, shown
    log = re.search(r"Full pip output: (\S+)", shown)
    assert log and Path(log[1]).exists()


def test_version_mismatch_prints_the_exact_command(runtime: Runtime, wheel: Path, tmp_path: Path) -> None:
    runtime.uninstall_course()
    student = read_notebook(ROOT / "notebooks" / "00_orientation.ipynb")
    setup = _cell(student, "setup").replace('COURSE_VERSION = "', 'COURSE_VERSION = "9.9.9-')
    nb = run_cells(runtime, [f"%env COURSE_INSTALL={wheel}", setup], tmp_path, timeout=300)
    found = errors(nb.cells[1])
    assert len(found) == 1 and found[0].ename == "VersionMismatchError", cell_text(nb.cells[1])
    shown = "\n".join(found[0].traceback)
    assert f'%pip install --no-deps --force-reinstall "{wheel}"' in shown and "Traceback" not in shown, shown
