"""The notebook frame every solution notebook follows (docs/AUTHORING.md, "Notebook frame"), as checks.

`frame_problems(stem, nb)` lists what breaks the frame; `release` and `release --check` call it from
`validate_source`, so a notebook out of frame is not released. The rules, in short:

- the first cell is markdown: `# NN · Title`, a `**Goals**` list, `**Contents**` and `**Expected run time**: ...`,
  and that paragraph quotes every value of the notebook metadata `course.run_time` (release stamps the measured
  small-size phrases and the sentence that they assume free cores into it: `claims.stamp_run_times`);
- the metadata `course` has `title` (named in the title line), `summary`, `working_time` and `run_time`
  (`small_first`, `small_rerun`, `full_t4`); the README and self-study tables are made from them;
- level-2 headings are one of `## N. Title` (sections, numbered 1, 2, ... in order), `## Exercise N: Title
  (P points)` (numbered 1, 2, ... in order, separately from sections), `## Open questions (P points, graded by
  hand)` and `## Recap`;
- every solution and test cell sits under an exercise heading whose P is the sum of its test cells' points, and
  whose cell has a `**Goal**: ...` and an `**Expected result**: ...` line;
- every manually graded answer sits under the one open-questions heading, whose P is the sum of their points, and
  one recap comes after every exercise and the open questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbformat import NotebookNode

__all__ = ["RUN_TIME_KEYS", "COURSE_TEXT_KEYS", "Heading", "headings", "frame_problems"]

RUN_TIME_KEYS = ("small_first", "small_rerun", "full_t4")
COURSE_TEXT_KEYS = ("title", "summary", "working_time")

_POINTS = r"(?P<points>\d+(?:\.\d+)?) points?"
SECTION_RE = re.compile(r"^## (?P<number>\d+)\. \S.*$")
EXERCISE_RE = re.compile(rf"^## Exercise (?P<number>\d+): (?P<title>\S.*) \({_POINTS}\)$")
OPEN_RE = re.compile(rf"^## Open questions \({_POINTS}, graded by hand\)$")
RECAP = "## Recap"
GOAL = "**Goal**: "
EXPECTED = "**Expected result**: "
RUN_TIME = "**Expected run time**: "
# Wordings the frame replaced; named so that the message says which one to use instead.
OLD_WORDINGS = {
    "**Goal:**": GOAL,
    "**Goal.**": GOAL,
    "**Expected result:**": EXPECTED,
    "**Expected result.**": EXPECTED,
    "**Goals.**": "**Goals**",
    "**Goals:**": "**Goals**",
    "**Contents.**": "**Contents**",
    "**Contents:**": "**Contents**",
    "**Run time.**": RUN_TIME,
    "**Expected run time:**": RUN_TIME,
}
HEADING_HELP = (
    "one of '## N. Title' (a section), '## Exercise N: Title (P points)', "
    "'## Open questions (P points, graded by hand)' or '## Recap'"
)


@dataclass(frozen=True)
class Heading:
    """A markdown heading: the cell it is in and its text (the whole line)."""

    cell: int
    level: int
    text: str


def headings(nb: NotebookNode) -> list[Heading]:
    """Every ATX heading of the notebook's markdown cells, in order, skipping fenced code blocks."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and (match := re.match(r"^(#{1,6}) \S", line)):
                found.append(Heading(index, len(match.group(1)), line.rstrip()))
    return found


def _label(stem: str, nb: NotebookNode, index: int) -> str:
    cid = nb.cells[index].get("id")
    return f"solutions/{stem}.ipynb cell {index}" + (f" (id {cid})" if cid else "")


def _points(cell: NotebookNode) -> float:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    try:
        return float(meta.get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def _kind(cell: NotebookNode) -> str:
    """'solution', 'test', 'answer' or '' for the cells the frame places."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not isinstance(meta, dict) or not meta.get("solution") and not meta.get("grade"):
        return ""
    if cell.cell_type == "markdown":
        return "answer" if meta.get("solution") and meta.get("grade") else ""
    if meta.get("solution") and not meta.get("grade"):
        return "solution"
    return "test" if meta.get("grade") and not meta.get("solution") else ""


def _paragraph(source: str, start: str) -> str | None:
    """The paragraph of `source` that begins with `start` (up to the next blank line), or None."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(start):
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].strip()), len(lines))
            return " ".join(lines[i:end])
    return None


def _is_text(value: object) -> bool:
    """A string with something in it."""
    return isinstance(value, str) and bool(value.strip())


def _metadata_problems(stem: str, nb: NotebookNode) -> list[str]:
    where = f"solutions/{stem}.ipynb"
    course = nb.metadata.get("course", {})
    problems = [
        f"{where}: notebook metadata course.{key} must be a non-empty string (the README and "
        f"docs/self_study.md tables are made from it)"
        for key in COURSE_TEXT_KEYS
        if not _is_text(course.get(key))
    ]
    run_time = course.get("run_time")
    if not isinstance(run_time, dict):
        return problems + [
            f"{where}: notebook metadata course.run_time must be a dict with "
            f"{', '.join(RUN_TIME_KEYS)} (e.g. 'about 1 min')"
        ]
    problems += [
        f"{where}: notebook metadata course.run_time.{key} must be a non-empty string (e.g. 'about 1 min')"
        for key in RUN_TIME_KEYS
        if not _is_text(run_time.get(key))
    ]
    return problems


def _first_cell_problems(stem: str, nb: NotebookNode) -> list[str]:
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        return [
            f"solutions/{stem}.ipynb: the first cell must be markdown with the title, **Goals**, **Contents** "
            f"and **Expected run time**"
        ]
    label = _label(stem, nb, 0)
    source = nb.cells[0].source
    lines = source.splitlines()
    course = nb.metadata.get("course", {})
    problems = []
    title_line = lines[0] if lines else ""
    if not title_line.startswith(f"# {stem[:2]} · "):
        problems.append(f"{label}: the first line must be the title '# {stem[:2]} · <Title>', not {title_line!r}")
    title = course.get("title")
    if _is_text(title) and title.lower() not in title_line.lower():
        problems.append(f"{label}: the title line does not name the metadata course.title {title!r}")
    goals = [i for i, line in enumerate(lines) if line.rstrip() == "**Goals**"]
    if not goals:
        problems.append(f"{label}: needs a line '**Goals**' followed by a list of goals")
    elif not any(re.match(r"^(- |\d+\. )", line) for line in lines[goals[0] + 1 : goals[0] + 3]):
        problems.append(f"{label}: the '**Goals**' line must be followed by a list ('- ...' or '1. ...')")
    if not any(re.match(r"^\*\*Contents\*\*(: \S|$)", line) for line in lines):
        problems.append(f"{label}: needs a '**Contents**: ...' line (or '**Contents**' followed by a list)")
    paragraph = _paragraph(source, RUN_TIME)
    if paragraph is None:
        problems.append(
            f"{label}: needs a paragraph '{RUN_TIME}...' (small size first run and re-run, full size on a T4)"
        )
    elif isinstance(course.get("run_time"), dict):
        for key in RUN_TIME_KEYS:
            value = course["run_time"].get(key)
            if _is_text(value) and value not in paragraph:
                problems.append(
                    f"{label}: the expected run time does not state course.run_time.{key} = {value!r} "
                    f"(the README and docs/self_study.md tables quote it); make the two agree"
                )
    return problems


def _wording_problems(stem: str, nb: NotebookNode) -> list[str]:
    return [
        f"{_label(stem, nb, index)}: write {new!r} instead of {old!r}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for old, new in OLD_WORDINGS.items()
        if old in cell.source
    ]


def _heading_problems(stem: str, nb: NotebookNode) -> list[str]:
    """Heading wording and numbering, and the place of every graded cell."""
    problems = []
    level2: dict[int, list[str]] = {}
    sections = exercises = 0
    for heading in headings(nb):
        label = _label(stem, nb, heading.cell)
        if heading.level == 1:
            if heading.cell != 0:
                problems.append(f"{label}: only the first cell has a '# ' title; use '## ' for {heading.text!r}")
            continue
        if heading.level != 2:
            continue
        if match := SECTION_RE.match(heading.text):
            sections += 1
            if int(match["number"]) != sections:
                problems.append(
                    f"{label}: section {heading.text!r} should be number {sections} (sections count "
                    f"1, 2, ... in order; exercises are numbered separately)"
                )
        elif match := EXERCISE_RE.match(heading.text):
            exercises += 1
            if int(match["number"]) != exercises:
                problems.append(
                    f"{label}: {heading.text!r} should be Exercise {exercises} (exercises count 1, 2, ... in order)"
                )
        elif not OPEN_RE.match(heading.text) and heading.text != RECAP:
            problems.append(f"{label}: heading {heading.text!r} is not {HEADING_HELP}")
        level2.setdefault(heading.cell, []).append(heading.text)
    return problems + _placement_problems(stem, nb, level2)


def _placement_problems(stem: str, nb: NotebookNode, level2: dict[int, list[str]]) -> list[str]:
    """Solution and test cells under exercise headings, answers under the open questions, then the recap."""
    where = f"solutions/{stem}.ipynb"
    problems = []
    groups: list[dict] = []  # one per level-2 heading: its cell, text and the graded cells under it
    for index, cell in enumerate(nb.cells):
        for text in level2.get(index, []):
            groups.append({"cell": index, "text": text, "solution": [], "test": [], "answer": []})
        kind = _kind(cell)
        if kind:
            if groups:
                groups[-1][kind].append(index)
            else:
                problems.append(f"{_label(stem, nb, index)}: a graded cell before the first '## ' heading")
    for group in groups:
        label = _label(stem, nb, group["cell"])
        exercise, open_questions = EXERCISE_RE.match(group["text"]), OPEN_RE.match(group["text"])
        if not exercise:
            for index in group["solution"] + group["test"]:
                problems.append(
                    f"{_label(stem, nb, index)}: a {_kind(nb.cells[index])} cell under "
                    f"{group['text']!r}; it belongs under its '## Exercise N: Title (P points)' heading"
                )
        if not open_questions:
            for index in group["answer"]:
                problems.append(
                    f"{_label(stem, nb, index)}: an open-question answer under {group['text']!r}; it "
                    f"belongs under '## Open questions (P points, graded by hand)'"
                )
        if exercise:
            if not group["solution"] or not group["test"]:
                problems.append(
                    f"{label}: {group['text']!r} needs its solution cell and its test cell below it "
                    f"(before the next '## ' heading)"
                )
            stated, points = float(exercise["points"]), sum(_points(nb.cells[i]) for i in group["test"])
            if group["test"] and abs(stated - points) > 1e-9:
                problems.append(
                    f"{label}: {group['text']!r} states {stated:g} points but its test cells are worth {points:g}"
                )
            source = nb.cells[group["cell"]].source
            for start in (GOAL, EXPECTED):
                if not any(line.startswith(start) for line in source.splitlines()):
                    problems.append(f"{label}: the cell of {group['text']!r} needs a line '{start}...'")
        if open_questions:
            stated, points = float(open_questions["points"]), sum(_points(nb.cells[i]) for i in group["answer"])
            if abs(stated - points) > 1e-9:
                problems.append(
                    f"{label}: {group['text']!r} states {stated:g} points but its answer cells are worth {points:g}"
                )
    opens = [g for g in groups if OPEN_RE.match(g["text"])]
    recaps = [i for i, g in enumerate(groups) if g["text"] == RECAP]
    has_answers = any(_kind(c) == "answer" for c in nb.cells)
    if len(opens) > 1 or (has_answers and not opens):
        problems.append(
            f"{where}: needs exactly one '## Open questions (P points, graded by hand)' heading above "
            f"the answer cells (found {len(opens)})"
        )
    if len(recaps) != 1:
        problems.append(f"{where}: needs exactly one '{RECAP}' heading (found {len(recaps)})")
    elif any(EXERCISE_RE.match(g["text"]) or OPEN_RE.match(g["text"]) for g in groups[recaps[0] :]):
        problems.append(
            f"{_label(stem, nb, groups[recaps[0]]['cell'])}: '{RECAP}' must come after every exercise "
            f"and the open questions"
        )
    return problems


def frame_problems(stem: str, nb: NotebookNode) -> list[str]:
    """Everything in solutions/<stem>.ipynb that breaks the notebook frame (empty: in frame).

    The points of an exercise heading are checked against its test cells' nbgrader points, which
    `validate_source` in turn checks against the hidden suite.
    """
    return (
        _metadata_problems(stem, nb)
        + _first_cell_problems(stem, nb)
        + _wording_problems(stem, nb)
        + _heading_problems(stem, nb)
    )
