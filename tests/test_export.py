"""The reference modules are generated from the solution cells: one copy of every answer, checked for drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import content
from autograder.tools.export import ExportError, export_reference, reference_path
from autograder.tools.release import ROOT, main, notebook_json, read_notebook, write_release

STEMS = content.stems()


@pytest.mark.parametrize("stem", STEMS)
def test_committed_reference_equals_the_export(stem: str) -> None:
    committed = reference_path(stem).read_text(encoding="utf-8")
    assert committed == export_reference(stem), (
        f"autograder/course/{stem}/reference.py differs from what solutions/{stem}.ipynb generates: "
        "run python -m autograder release"
    )


def test_editing_a_solution_cell_body_makes_release_check_report_drift(tmp_path: Path, capsys) -> None:
    stem = "00_orientation"
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / f"{stem}.ipynb", tmp_path / "solutions")
    shutil.copytree(ROOT / "docs" / "results", tmp_path / "docs" / "results")  # the runs its recap quotes
    write_release(root=tmp_path)
    assert main(["--check", "--root", str(tmp_path)]) == 0, capsys.readouterr().out
    path = tmp_path / "solutions" / f"{stem}.ipynb"
    nb = read_notebook(path)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "accuracy_impl")
    assert "argmax(dim=1) == y" in cell.source
    cell.source = cell.source.replace("argmax(dim=1) == y", "argmax(dim=1) != y")  # inside the solution region
    path.write_text(notebook_json(nb), encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"autograder/course/{stem}/reference.py" in out and "run python -m autograder release" in out, out
    assert "notebooks/" not in out, "only the reference drifts: the student copy has no solution code"
    assert main(["--root", str(tmp_path)]) == 0  # release regenerates it
    assert "argmax(dim=1) != y" in reference_path(stem, tmp_path).read_text(encoding="utf-8")
    assert main(["--check", "--root", str(tmp_path)]) == 0


def _meta(**kw) -> dict:
    return {"nbgrader": {"schema_version": 3, **kw}}


def _demo_notebook(extra_graded_source: str = "") -> nbformat.NotebookNode:
    """Graded code that uses given definitions, next to demo code that must never run on import."""
    graded = (
        "def scaled(x):\n    ### BEGIN SOLUTION\n    return SCALE * helper(x)\n    ### END SOLUTION\n"
        + extra_graded_source
    )
    cells = [
        new_code_cell("raise SystemExit('the setup cell ran')", id="d-setup", metadata=_meta(grade_id="setup")),
        new_code_cell("import json\nimport math\n\nRAN = []", id="d-imports", metadata=_meta(grade_id="imports")),
        new_code_cell(
            "SCALE = 3\n\ndef helper(x):\n    return math.floor(x)\n\nraise RuntimeError('demo code ran at import')",
            id="d-given",
        ),
        new_code_cell("%matplotlib inline", id="d-magic"),
        new_code_cell(graded, id="d-graded", metadata=_meta(solution=True, grade=False, grade_id="scaled_impl")),
        new_code_cell(
            "RAN.append('test')\nassert scaled(2.5) == 6",
            id="d-test",
            metadata=_meta(grade=True, solution=False, points=1, grade_id="test_scaled"),
        ),
        new_code_cell(
            "def train():\n    raise RuntimeError('training ran at import')\n\nmodel = train()\n"
            "RAN.append('demo')\n\nclass Wrapper:\n    def __call__(self, x):\n        return scaled(x) + 1\n\n"
            "def evaluate():\n    return scaled(model)",
            id="d-demo",
        ),
    ]
    return new_notebook(cells=cells)


def _export(tmp_path: Path, nb: nbformat.NotebookNode) -> str:
    (tmp_path / "solutions").mkdir(exist_ok=True)
    (tmp_path / "solutions" / "97_demo.ipynb").write_text(notebook_json(nb), encoding="utf-8")
    return export_reference("97_demo", tmp_path)


def test_generated_reference_imports_without_running_demo_code(tmp_path: Path) -> None:
    source = _export(tmp_path, _demo_notebook())
    namespace: dict = {}
    exec(compile(source, "reference.py", "exec"), namespace)  # the demo cells would raise
    assert namespace["scaled"](2.5) == 6
    assert "Wrapper" in namespace and namespace["Wrapper"]()(2.5) == 7  # given code built on the graded code
    assert "evaluate" not in namespace and "model" not in namespace and "RAN" not in namespace  # need a run
    assert "import json" not in source and "### BEGIN SOLUTION" not in source and "GENERATED" in source


def test_graded_code_that_needs_a_run_time_value_is_refused(tmp_path: Path) -> None:
    nb = _demo_notebook("\n\ndef uses_model():\n    return model\n")
    with pytest.raises(ExportError, match=r"`model`.*computed at run time by cell d-demo"):
        _export(tmp_path, nb)


_IMPORT_ALL = """
import sys, time
import course_lib as cl
import torch
def refuse(*args, **kwargs):
    raise AssertionError("demo code ran while importing a reference module")
cl.training.fit = cl.data.load_dataset = cl.data.make_loaders = cl.env.set_seed = torch.manual_seed = refuse
from autograder import content
start = time.perf_counter()
for stem in sys.argv[1:]:
    content.load(stem, "reference")
print(time.perf_counter() - start)
"""


def test_committed_references_import_cheaply_without_demo_code() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, *STEMS], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seconds = json.loads(done.stdout.strip().splitlines()[-1])
    assert seconds < 20, f"importing the {len(STEMS)} reference modules took {seconds:.1f} s (torch already loaded)"
