"""The notebook tables of README.md and docs/self_study.md, generated from the solution notebooks' metadata.

Each solution notebook carries `metadata.course` with `title`, `summary`, `working_time` and `run_time`
(`small_first`, `small_rerun`, `full_t4`); its first cell states the same run times (checked by
autograder/tools/frame.py). `python -m autograder release` rewrites every table between a pair of marker
comments

    <!-- begin generated table: NAME (python -m autograder release, from the notebooks' metadata course) -->
    <!-- end generated table: NAME -->

and `release --check` reports a document whose tables are stale. Colab links come from pyproject.toml's
`[tool.course]` (autograder/tools/publishing.py); without it the tables link to the files in the repository.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.tools import publishing

__all__ = [
    "TABLES",
    "begin_marker",
    "end_marker",
    "render",
    "regenerate",
    "wanted_texts",
    "write_tables",
    "table_problems",
]

Rows = dict[str, NotebookNode]


def begin_marker(name: str) -> str:
    """The comment that opens generated table `name`."""
    return f"<!-- begin generated table: {name} (python -m autograder release, from the notebooks' metadata course) -->"


def end_marker(name: str) -> str:
    """The comment that closes generated table `name`."""
    return f"<!-- end generated table: {name} -->"


def _course(nb: NotebookNode, key: str) -> str:
    """metadata.course.<key> (dots for nested keys), or a visible placeholder when it is missing."""
    value: object = nb.metadata.get("course", {})
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else f"(missing metadata course.{key})"


def _link(info: publishing.CourseInfo | None, stem: str, folder: str, up: str) -> str:
    """A Colab link to notebooks/ or solutions/<stem>.ipynb, or a repository-relative one without [tool.course]."""
    return info.colab_url(stem, folder) if info else f"{up}{folder}/{stem}.ipynb"


def _readme_notebooks(notebooks: Rows, info: publishing.CourseInfo | None) -> list[str]:
    lines = [
        "| # | notebook | what you build | first run (small, 2 CPU cores) | re-run (cached checkpoints) "
        "| full size on a Colab T4 (estimated) |",
        "|---|---|---|---|---|---|",
    ]
    for stem, nb in notebooks.items():
        lines.append(
            f"| {stem[:2]} | [{_course(nb, 'title')}](notebooks/{stem}.ipynb) | {_course(nb, 'summary')} "
            f"| {_course(nb, 'run_time.small_first')} | {_course(nb, 'run_time.small_rerun')} "
            f"| {_course(nb, 'run_time.full_t4')} |"
        )
    return lines


def _readme_links(notebooks: Rows, info: publishing.CourseInfo | None) -> list[str]:
    lines = ["| # | open in Colab | worked solution |", "|---|---|---|"]
    for stem, nb in notebooks.items():
        lines.append(
            f"| {stem[:2]} | [{_course(nb, 'title')}]({_link(info, stem, 'notebooks', '')}) "
            f"| [solution]({_link(info, stem, 'solutions', '')}) |"
        )
    return lines


def _self_study(notebooks: Rows, info: publishing.CourseInfo | None) -> list[str]:
    lines = [
        "| # | notebook | what you build | your working time (estimate) | run time, small size on 2 CPU cores "
        "| open in Colab |",
        "|---|---|---|---|---|---|",
    ]
    for stem, nb in notebooks.items():
        n = stem[:2]
        lines.append(
            f"| {n} | {_course(nb, 'title')} | {_course(nb, 'summary')} | {_course(nb, 'working_time')} "
            f"| {_course(nb, 'run_time.small_first')} first run, {_course(nb, 'run_time.small_rerun')} "
            f"after | [student copy][nb{n}] · [solution][sol{n}] |"
        )
    lines.append("")
    lines += [f"[nb{stem[:2]}]: {_link(info, stem, 'notebooks', '../')}" for stem in notebooks]
    lines += [f"[sol{stem[:2]}]: {_link(info, stem, 'solutions', '../')}" for stem in notebooks]
    return lines


Renderer = Callable[[Rows, "publishing.CourseInfo | None"], list[str]]
# document -> {table name: renderer}
TABLES: dict[Path, dict[str, Renderer]] = {
    Path("README.md"): {"notebooks": _readme_notebooks, "learning on your own": _readme_links},
    Path("docs") / "self_study.md": {"notebooks": _self_study},
}


def render(name: str, lines: list[str]) -> str:
    """A generated block: begin marker, the table lines, end marker."""
    return "\n".join([begin_marker(name), *lines, end_marker(name)])


def regenerate(text: str, doc: Path, notebooks: Rows, info: publishing.CourseInfo | None) -> str:
    """`text` of document `doc` with each of its generated tables rewritten; ValueError when a marker is missing."""
    for name, renderer in TABLES[doc].items():
        pattern = re.compile(re.escape(begin_marker(name)) + r".*?" + re.escape(end_marker(name)), re.S)
        matches = list(pattern.finditer(text))
        if len(matches) != 1:
            raise ValueError(
                f"{doc} needs exactly one generated table {name!r}: the lines {begin_marker(name)!r} "
                f"and {end_marker(name)!r} (release writes the table between them)"
            )
        start, end = matches[0].span()
        text = text[:start] + render(name, renderer(notebooks, info)) + text[end:]
    return text


def _notebooks(root: Path, stems: Iterable[str]) -> Rows:
    return {stem: nbformat.read(str(root / "solutions" / f"{stem}.ipynb"), as_version=4) for stem in stems}


def wanted_texts(root: Path, stems: Iterable[str]) -> dict[Path, str | ValueError]:
    """{document: the text it should have, or why it cannot be made} for every document of TABLES under root."""
    root = Path(root)
    docs = [doc for doc in TABLES if (root / doc).exists()]
    if not docs:
        return {}
    notebooks, info = _notebooks(root, stems), publishing.course_info(root)
    wanted: dict[Path, str | ValueError] = {}
    for doc in docs:
        try:
            wanted[root / doc] = regenerate((root / doc).read_text(encoding="utf-8"), doc, notebooks, info)
        except ValueError as err:
            wanted[root / doc] = err
    return wanted


def write_tables(root: Path, stems: Iterable[str]) -> list[Path]:
    """Rewrite the generated tables of README.md and docs/self_study.md; return the files that changed.

    A document that lacks a marker is left alone; `table_problems` (release --check) reports it.
    """
    changed = []
    for path, text in wanted_texts(root, stems).items():
        if isinstance(text, str) and path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def table_problems(root: Path, stems: Iterable[str]) -> list[str]:
    """The documents whose generated tables disagree with the notebooks' metadata (empty: all current)."""
    root = Path(root)
    problems = []
    for path, text in wanted_texts(root, stems).items():
        if isinstance(text, ValueError):
            problems.append(str(text))
        elif path.read_text(encoding="utf-8") != text:
            problems.append(
                f"{path.relative_to(root)}: the notebook table is out of date with the notebooks' "
                f"metadata course (run `python -m autograder release`)"
            )
    return problems
