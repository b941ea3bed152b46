"""nbgrader configuration for this course (the instructor-facing template).

`python -m autograder nbgrader-course DIR` copies this file to DIR/nbgrader_config.py, next to
DIR/source/<assignment>/<stem>.ipynb (one assignment per notebook stem). nbgrader then runs from DIR:

    cd DIR
    nbgrader generate_assignment 00_orientation --force   # release/00_orientation/00_orientation.ipynb
    # put submissions in submitted/<student>/00_orientation/00_orientation.ipynb, or LMS downloads in
    # downloaded/00_orientation/archive/ and run `nbgrader zip_collect 00_orientation` (regexp below)
    nbgrader autograde 00_orientation --force
    nbgrader generate_feedback 00_orientation --force      # feedback/<student>/00_orientation/*.html
    nbgrader export                                        # grades.csv

Run nbgrader with the course's virtual environment on PATH (`source .venv/bin/activate`): nbgrader
starts the `alembic` executable when it creates the gradebook and fails with "No such file or
directory: 'alembic'" otherwise. The hidden-test blocks import `autograder`, so grade with the
course package installed (`pip install -e ".[instructor]"`).

Every setting is read from environment variables first, so one file serves every machine:
COURSE_ID, NBGRADER_DB_URL, NBGRADER_EXCHANGE, NBGRADER_CELL_TIMEOUT.

As a Python module this file only defines `configure(c, root)`; the settings are applied when
traitlets loads it as a config file (then `get_config` exists).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["COURSE_ID", "CELL_TIMEOUT_S", "ZIP_COLLECT_REGEXP", "QUIET_OVERWRITE_CELLS", "configure"]

COURSE_ID = "dyninf"
# Per-cell limit of autograde (nbgrader's default is 30 s). The small-size training cells take
# about 20 s to 2 min on 2 CPU cores when no cached checkpoint exists; 900 s leaves room for a slow,
# shared grading server. Infinite loops cost this much per affected cell, so keep it finite.
CELL_TIMEOUT_S = 900
# LMS downloads such as "hw_jdoe_attempt_2026-11-02-10-00-00_00_orientation.ipynb" (Canvas/Blackboard
# style); the student id is the word before "_attempt_", file_id is the notebook file name.
ZIP_COLLECT_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.*)"
# autograde's OverwriteCells, without its false alarm on test cells with hidden tests (see below).
QUIET_OVERWRITE_CELLS = "autograder.tools.nbgrader_config.OverwriteCellsKeepingHiddenTests"


def configure(c: Any, root: Path | str) -> Any:
    """Apply the course's nbgrader settings to the traitlets config `c` for the course folder `root`."""
    root = Path(root).resolve()
    c.CourseDirectory.course_id = os.environ.get("COURSE_ID", COURSE_ID)
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", f"sqlite:///{root / 'gradebook.db'}")
    # Notebooks only: data and checkpoints come from the installed course package, never from
    # files next to the notebook (students cannot ship a modified helper that the grader would use).
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.pt", "cache"]
    exchange = os.environ.get("NBGRADER_EXCHANGE")
    if exchange:  # only for release_assignment / fetch / submit / collect on a shared server
        c.Exchange.root = exchange
    timeout = int(os.environ.get("NBGRADER_CELL_TIMEOUT", CELL_TIMEOUT_S))
    c.ExecutePreprocessor.timeout = timeout
    c.Execute.timeout = timeout
    # The release stubs: the same text the course's own release generator writes.
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    # A deleted test cell is restored from the gradebook instead of silently scoring 0 (default False).
    c.OverwriteCells.add_missing_cells = True
    # nbgrader's own sanitize steps, with OverwriteCells replaced by the subclass below.
    c.Autograde.sanitize_preprocessors = [
        "nbgrader.preprocessors.ClearOutput",
        "nbgrader.preprocessors.DeduplicateIds",
        "nbgrader.preprocessors.OverwriteKernelspec",
        QUIET_OVERWRITE_CELLS,
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    # Class name matters: FileNameCollector.named_regexp would be ignored without a warning.
    c.FileNameCollectorPlugin.named_regexp = ZIP_COLLECT_REGEXP
    # Long tracebacks of student code stay readable in the feedback.
    c.LimitOutput.max_lines = 1000
    c.LimitOutput.max_traceback = 100
    return c


def _overwrite_cells_keeping_hidden_tests() -> type:
    """nbgrader's OverwriteCells, silent on a test cell handed in exactly as it was released.

    nbgrader records each test cell with its hidden tests and releases it without them, so stock
    OverwriteCells sees a changed checksum in every submission ("Attribute 'checksum' for cell ... has
    changed!") and restores the recorded cell. This subclass restores such a cell first, when the
    submitted source is the recorded one with its hidden tests removed; a test cell the student
    edited still gets nbgrader's warning. The grading is the same either way.
    """
    from nbformat.notebooknode import NotebookNode
    from nbgrader.api import MissingEntry
    from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

    class OverwriteCellsKeepingHiddenTests(OverwriteCells):
        def preprocess_cell(self, cell: NotebookNode, resources: Any, cell_index: int) -> Any:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") is not None and meta.get("locked") and cell.cell_type == "code":
                try:
                    recorded = self.gradebook.find_source_cell(meta["grade_id"], self.notebook_id, self.assignment_id)
                except MissingEntry:
                    recorded = None
                if recorded is not None and recorded.locked:
                    released = NotebookNode(source=recorded.source)
                    removed = ClearHiddenTests(parent=self)._remove_hidden_test_region(released)
                    if removed and cell.source == released.source:
                        cell.source = recorded.source
            return super().preprocess_cell(cell, resources, cell_index)

    return OverwriteCellsKeepingHiddenTests


def __getattr__(name: str) -> Any:
    """`OverwriteCellsKeepingHiddenTests`, built on first use (importing this module needs no nbgrader)."""
    if name == "OverwriteCellsKeepingHiddenTests":
        cls = _overwrite_cells_keeping_hidden_tests()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if "get_config" in globals():  # loaded by traitlets as DIR/nbgrader_config.py
    configure(get_config(), Path(globals().get("__file__", "nbgrader_config.py")).resolve().parent)  # noqa: F821
