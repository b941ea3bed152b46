"""Every solution notebook runs top to bottom at the small size without a cell error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.tools import claims
from autograder.tools.execute import execute_notebook
from autograder.tools.release import ROOT, read_notebook, solution_stems

STEMS = solution_stems(ROOT)


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_solution_notebook_executes(stem: str, tmp_path: Path) -> None:
    assert os.environ.get("COURSE_SIZE", "small") == "small", "solution notebooks are tested at the small size"
    result = execute_notebook(ROOT / "solutions" / f"{stem}.ipynb", tmp_path, timeout=900)
    assert result.ok, (
        f"{stem}: cell {result.cell_index} failed after {result.seconds:.0f} s\n"
        f"{result.cell_source[:2000]}\n{result.error}"
    )
    assert not (ROOT / "solutions" / f"{stem}.ipynb").read_text().count('"output_type"'), (
        "executing must never write outputs back into solutions/"
    )
    print(f"{stem}: {result.seconds:.1f} s")
    assert result.output is not None
    fresh = claims.executed_results(read_notebook(result.output))
    drift = claims.drift_problems(stem, fresh, claims.load_stored(ROOT, stem))
    assert not drift, "the run disagrees with the results the text quotes:\n" + "\n".join(drift)


def test_execute_reports_the_failing_cell(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[new_code_cell("x = 1", id="a"), new_code_cell("y = x / 0", id="b"), new_code_cell("z = 3", id="c")]
    )
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "src" / "99_broken.ipynb"
    source.parent.mkdir()
    nbformat.write(nb, str(source))
    result = execute_notebook(source, tmp_path / "out", timeout=60)
    assert not result.ok and result.cell_index == 1 and result.cell_source == "y = x / 0"
    assert result.error.startswith("ZeroDivisionError")
    assert (tmp_path / "out" / "99_broken.ipynb").exists()
    with pytest.raises(ValueError, match="source folder"):
        execute_notebook(source, source.parent)
