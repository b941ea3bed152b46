"""Hints teach without giving the answer: three non-empty levels per graded function, and no hint
reproduces the worked solution's code (a line of it, or a run of its lines).

The solution of each exercise is the region between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
of its cell in solutions/<stem>.ipynb. Hint text is prose with inline code; it is cut into pieces at
newlines, semicolons and backticks, and each piece is compared with each solution line after both
are put into one canonical form, so renaming a variable or dropping ``dim=`` does not hide a copy.
"""

from __future__ import annotations

import difflib
import io
import re
import tokenize
from pathlib import Path

import pytest

from autograder.suite import load_suite
from autograder.tools import selfcheck
from autograder.tools.release import is_solution_cell, read_notebook

ROOT = Path(__file__).resolve().parents[1]
STEMS = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

MIN_CHARS = 12  # shorter canonical lines are too generic to count as "the solution"
SAME_LINE = 0.85  # similarity at which a hint piece counts as a copy of one solution line
RUN_LINE = 0.7  # looser similarity for each piece of a run of 2+ consecutive solution lines

# Spellings that change nothing about what a line computes.
_NOISE = [
    (re.compile(r"^\w[\w ]*:\s*(?=\S)"), ""),  # a label in front of the code: "forward: ..."
    (re.compile(r"\b(?:torch\.nn\.functional|torch|F|nn|np|math|self)\."), ""),  # namespaces
    (re.compile(r"\b(?:dim|axis)="), ""),  # dim=-1 and -1 are the same step
    (re.compile(r"^(?:return|if|elif|while)\b"), ""),
    (re.compile(r"^[A-Za-z_][\w, ]*=(?!=)"), ""),  # the name a result is stored in
]
_TRIVIAL = re.compile(r"^(?:pass|for\b.*:$|import\b|from\b.*\bimport\b|raise\b|else:|try:|with\b.*:$|def\b|#)")


def _strip_comment(line: str) -> str:
    """The line without its comment (tokenize knows a '#' inside a string is not one)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return line.split("#", 1)[0]
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            return line.strip()[: tok.start[1]]
    return line


def canonical(line: str) -> str:
    """One line of code in the form the comparison uses ('' for a trivial line)."""
    text = _strip_comment(line).strip().rstrip(".,")
    if not text or _TRIVIAL.match(text):
        return ""
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text.strip())
    text = re.sub(r"\s+", "", text)
    if re.fullmatch(r"\(?[\w,]+\)?", text):
        return ""  # names and calls of names only, such as "model, history": no step of the solution
    return text if len(text) >= MIN_CHARS else ""


def solution_lines(stem: str) -> dict[str, list[str]]:
    """{function: canonical non-trivial lines of its solution region} for one notebook."""
    out: dict[str, list[str]] = {}
    for cell in read_notebook(ROOT / "solutions" / f"{stem}.ipynb").cells:
        if not is_solution_cell(cell) or "### BEGIN SOLUTION" not in cell.source:
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        regions = re.findall(r"### BEGIN SOLUTION(.*?)### END SOLUTION", cell.source, flags=re.DOTALL)
        lines = [canonical(line) for body in regions for line in body.splitlines()]
        out[grade_id.removesuffix("_impl")] = [line for line in lines if line]
    return out


def hint_pieces(text: str) -> list[str]:
    """The canonical code-like pieces of a hint: cut at newlines, semicolons and backticks."""
    pieces = re.split(r"[\n;`]", text)
    return [c for c in (canonical(p) for p in pieces) if c]


def _substantive(line: str) -> bool:
    """A line long enough, and more than one call of plain names, to be a step of the solution."""
    return len(line) >= 20 and not re.fullmatch(r"[\w.]+\([\w.,=\[\]'\"-]*\)?:?", line)


def _similar(a: str, b: str) -> float:
    """How far hint piece `a` reproduces solution line `b` (1.0: the line, or a piece holding all of it)."""
    if a == b or (b in a and _substantive(b)) or (a in b and len(a) >= 0.8 * len(b)):
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def copied_solution(hint: str, solution: list[str]) -> list[str]:
    """What in `hint` reproduces `solution`: copied lines and runs of consecutive lines ([] if nothing)."""
    pieces = hint_pieces(hint)
    found = []
    for piece in pieces:
        for line in solution:
            if _similar(piece, line) >= SAME_LINE:
                found.append(f"hint piece {piece!r} is solution line {line!r}")
    for i in range(len(pieces) - 1):
        for j in range(len(solution) - 1):
            if _similar(pieces[i], solution[j]) >= RUN_LINE and _similar(pieces[i + 1], solution[j + 1]) >= RUN_LINE:
                found.append(f"hint pieces {pieces[i : i + 2]} follow solution lines {solution[j : j + 2]}")
    return found


def _graded(stem: str) -> list[str]:
    return [name for name in dict.fromkeys(n for t in load_suite(stem).tests for n in t.uses)]


def test_every_notebook_has_solutions_and_hints() -> None:
    assert len(STEMS) >= 6, STEMS
    for stem in STEMS:
        assert selfcheck.load_hints(stem), f"autograder/course/{stem}/hints.py has no HINTS"
        assert solution_lines(stem), f"solutions/{stem}.ipynb has no solution regions"


@pytest.mark.parametrize("stem", STEMS)
def test_every_graded_function_has_three_nonempty_levels(stem: str) -> None:
    hints = selfcheck.load_hints(stem)
    for name in _graded(stem):
        levels = hints.get(name)
        assert levels is not None, f"{stem}: no hints for graded function {name}"
        assert len(levels) == 3, f"{stem}.{name}: {len(levels)} hint levels, want 3 (idea, approach, structure)"
        for level, text in enumerate(levels, 1):
            assert isinstance(text, str) and len(text.split()) >= 5, f"{stem}.{name}: level {level} is empty"


@pytest.mark.parametrize("stem", STEMS)
def test_no_hint_reproduces_the_solution(stem: str) -> None:
    hints = selfcheck.load_hints(stem)
    solutions = solution_lines(stem)
    problems = []
    for name, levels in hints.items():
        assert name in solutions, f"{stem}: hints for {name}, which has no solution region"
        for level, text in enumerate(levels, 1):
            problems += [f"{name} level {level}: {p}" for p in copied_solution(text, solutions[name])]
    assert not problems, f"{stem}: hints give the solution away:\n" + "\n".join(problems)


# The detector itself: what it must catch and what it must let through.


def test_detector_catches_a_copied_line_under_another_name() -> None:
    solution = [canonical("table = torch.as_tensor(exit_costs, dtype=torch.float64)")]
    assert copied_solution("costs = torch.as_tensor(exit_costs, dtype=float64); then average", solution)


def test_detector_catches_a_run_of_lines() -> None:
    solution = [canonical(s) for s in ("ever = correct.any(dim=0)", "first = correct.to(torch.int8).argmax(dim=0)")]
    hint = "any_correct = correct.any(0); first_ok = correct.int().argmax(0)"
    assert copied_solution(hint, solution)


def test_detector_lets_structure_with_a_blank_through() -> None:
    solution = [canonical("return float(table[exit_index.long().cpu()].mean())")]
    hint = "table = a float64 tensor of the costs; per_sample = ____  # one cost per sample; return its mean"
    assert not copied_solution(hint, solution)
    assert canonical("return x") == "" and canonical("import torch") == "" and canonical("   # note") == ""
