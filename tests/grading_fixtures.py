"""Synthetic hidden suite and notebooks for the grader tests (a tiny stem, built in tmp folders)."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

STEM = "90_synthetic"

SUITE_SOURCE = '''
"""Hidden tests of the synthetic notebook used by tests/test_grader.py."""
import torch
from autograder.suite import Suite, expect, expect_close

SUITE = Suite("90_synthetic")


def count_linear(namespace, width):
    """Probe: how many Linear layers the student's model has (runs where the student code lives)."""
    model = namespace["build_model"](width)
    return sum(1 for m in model.modules() if isinstance(m, torch.nn.Linear))


def _pair(seed, shape_b):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, generator=g), torch.randn(*shape_b, generator=g)


@SUITE.test(grade_id="test_add", points=1, uses=("add",))
def add_tensors(student):
    """add returns the elementwise sum"""
    a, b = _pair(0, (4, 3))
    expect_close(student.call("add", a, b), a + b, "add(a, b)")


@SUITE.test(grade_id="test_add", points=1, uses=("add",))
def add_broadcast(student):
    """add broadcasts a row vector"""
    a, b = _pair(1, (3,))
    expect_close(student.call("add", a, b), a + b, "add(a, row)")


@SUITE.test(grade_id="test_scale", points=1, uses=("scale",))
def scale_by_k(student):
    """scale multiplies by k"""
    a, _ = _pair(2, (1,))
    expect_close(student.call("scale", a, 2.5), a * 2.5, "scale(x, 2.5)")


@SUITE.test(grade_id="test_model", points=1, uses=("build_model",))
def model_has_two_linear(student):
    """the model has two Linear layers"""
    n = student.probe(count_linear, 5)
    expect(isinstance(n, int) and n == 2, "the model should have two Linear layers")
'''

SETUP = "import torch\nimport numpy as np"
ADD = 'def add(a, b):\n    """Elementwise sum."""\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION'
SCALE = 'def scale(x, k):\n    """x times k."""\n    ### BEGIN SOLUTION\n    return x * k\n    ### END SOLUTION'
MODEL = (
    'def build_model(width):\n    """Two Linear layers."""\n    ### BEGIN SOLUTION\n'
    "    return torch.nn.Sequential(torch.nn.Linear(width, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))\n"
    "    ### END SOLUTION"
)
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"


def stub(source: str) -> str:
    """The release version of a solution cell."""
    head, rest = source.split("    ### BEGIN SOLUTION\n")
    return head + STUB + rest.split("    ### END SOLUTION")[1]


def hidden_test_cell(grade_id: str, visible: str) -> str:
    return (
        f"{visible}\n### BEGIN HIDDEN TESTS\nfrom autograder.suite import run_cell\n"
        f'run_cell("{STEM}", "{grade_id}", globals())\n### END HIDDEN TESTS'
    )


def _cell(kind: str, source: str, cid: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": kind, "id": cid, "metadata": {}, "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = nbgrader
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def solution_meta(grade_id: str) -> dict:
    return {"solution": True, "grade": False, "locked": False, "grade_id": grade_id, "schema_version": 3}


def grade_meta(grade_id: str, points: int) -> dict:
    return {
        "solution": False,
        "grade": True,
        "locked": True,
        "grade_id": grade_id,
        "points": points,
        "schema_version": 3,
    }


def notebook(add: str = ADD, scale: str = SCALE, model: str = MODEL, setup: str = SETUP) -> dict:
    """A synthetic submission with the course's cell structure."""
    cells = [
        _cell("markdown", "# Synthetic notebook\nExercises on tensors.", "title"),
        _cell(
            "code",
            setup,
            "setup",
            {"locked": True, "grade": False, "solution": False, "grade_id": "setup", "schema_version": 3},
        ),
        _cell("markdown", "## Exercise 1: add (2 points)", "ex1"),
        _cell("code", add, "add-impl", solution_meta("add_impl")),
        _cell(
            "code",
            hidden_test_cell("test_add", "assert add(torch.ones(2), torch.ones(2)).sum() == 4"),
            "add-test",
            grade_meta("test_add", 2),
        ),
        _cell("code", "print(add(torch.ones(3), torch.ones(3)))", "demo-add"),
        _cell("markdown", "## Exercise 2: scale (1 point)", "ex2"),
        _cell("code", scale, "scale-impl", solution_meta("scale_impl")),
        _cell(
            "code",
            hidden_test_cell("test_scale", "assert scale(torch.ones(2), 2.0).sum() == 4"),
            "scale-test",
            grade_meta("test_scale", 1),
        ),
        _cell("markdown", "## Exercise 3: model (1 point)", "ex3"),
        _cell("code", "WIDTH = 5\nLABELS = ('a', 'b')", "consts"),
        _cell("code", model, "model-impl", solution_meta("model_impl")),
        _cell(
            "code", hidden_test_cell("test_model", "m = build_model(WIDTH)"), "model-test", grade_meta("test_model", 1)
        ),
        _cell("code", "m = build_model(WIDTH)\nprint(m)", "demo-model"),
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "course": {"stem": STEM, "version": "0.1.0"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def release() -> dict:
    return notebook(add=stub(ADD), scale=stub(SCALE), model=stub(MODEL))


def strip_metadata(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    nb["metadata"] = {"kernelspec": nb["metadata"]["kernelspec"]}
    for cell in nb["cells"]:
        cell["metadata"] = {}
    return nb


def write(path: Path, nb: dict | str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, dict):
        path.write_text(json.dumps(nb, indent=1))
    elif isinstance(nb, str):
        path.write_text(nb)
    else:
        path.write_bytes(nb)
    return path


def with_cell_source(nb: dict, cell_id: str, source: str) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell.get("id") == cell_id:
            cell["source"] = source
    return nb


def sandbox_args() -> list[str]:
    """Grader arguments for the tests' own (trusted) notebooks: none where bubblewrap works; elsewhere the
    explicit `--sandbox process` (the grader refuses to fall back to it silently, issue 17)."""
    from autograder.grader.sandbox import bwrap_usable

    return [] if bwrap_usable() else ["--sandbox", "process"]


def zip_of_notebook() -> bytes:
    """The bytes of a zip archive holding one solved synthetic notebook (a zip a student named .ipynb)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"{STEM}.ipynb", json.dumps(notebook()))
    return buffer.getvalue()
