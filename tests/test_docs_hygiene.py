"""User-facing text names no internal tracker items ("issue 9", "#17"): readers cannot look them up.

Scanned: README.md, every Markdown file under docs/ (AUTHORING.md included: instructors who add notebooks read it),
autograder/grader/README.md, data/README.md, the learners' hint texts, and every cell of the notebooks that learners
and instructors open (solutions/, notebooks/, the scaffold template, the Colab grading notebook). Code, tests and
commit messages may keep such references.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from autograder.tools.release import ROOT

INTERNAL_REFERENCE = re.compile(
    r"\b(?:issues?|pull requests?|PRs?|tickets?)\s*#?\d+"  # issue 9, issues 9 and 17, PR #12
    r"|(?<![\w&#/])#\d{1,5}(?![\w-])",  # #17 (not &#39; entities, #fff colours or #anchor-links)
    re.IGNORECASE,
)


def user_facing_files(root: Path = ROOT) -> list[Path]:
    files = [root / "README.md", root / "autograder" / "grader" / "README.md", root / "data" / "README.md"]
    files += sorted((root / "docs").rglob("*.md"))
    files += sorted((root / "autograder" / "course").glob("*/hints.py"))
    files += sorted((root / "solutions").glob("*.ipynb")) + sorted((root / "notebooks").glob("*.ipynb"))
    files += [root / "autograder" / "course" / "_template" / "solution.ipynb"]
    files += [root / "autograder" / "tools" / "grade_on_colab.ipynb"]
    return [f for f in files if f.exists()]


def texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) pairs: the whole file, or one per notebook cell (sources only, never outputs)."""
    if path.suffix != ".ipynb":
        return [(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))]
    notebook = nbformat.read(str(path), as_version=4)
    where = str(path.relative_to(ROOT))
    return [(f"{where} cell {i} ({cell.cell_type})", cell.source) for i, cell in enumerate(notebook.cells)]


def internal_references(text: str) -> list[str]:
    """Each internal reference in `text`, with its line."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found += [f"line {number}: {m.group(0)!r} in {line.strip()[:120]!r}" for m in INTERNAL_REFERENCE.finditer(line)]
    return found


@pytest.mark.parametrize(
    "text",
    ["## Sandbox (issue 9)", "after issues 9 and 17", "see #17.", "fixed in PR #3", "(Issue #12)", "ticket 4 says"],
)
def test_internal_references_are_found(text: str) -> None:
    assert internal_references(text)


@pytest.mark.parametrize(
    "text",
    [
        "see [the notebooks](#the-notebooks)",
        "colour #ff7f0e",
        "it&#39;s",
        "# Heading 1",
        "x = 3  # 2 exits",
        "known issues with bubblewrap",
        "tissue 9",
    ],
)
def test_ordinary_text_passes(text: str) -> None:
    assert internal_references(text) == []


def test_user_facing_text_names_no_internal_issue() -> None:
    files = user_facing_files()
    assert len(files) >= 15 and ROOT / "README.md" in files
    hits = [f"{where}, {hit}" for path in files for where, text in texts(path) for hit in internal_references(text)]
    assert not hits, "internal issue references in user-facing text:\n  " + "\n  ".join(hits)
