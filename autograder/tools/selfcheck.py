"""Self-study tools for learners who installed the full course: `check`, `hint` and `solution`.

    from autograder.tools.selfcheck import check, hint, solution
    check()                      # every hidden test of this notebook, run on the functions in this kernel
    check(exercise="accuracy")   # only the tests of one exercise (function name, grade_id or number)
    hint("accuracy")             # the next hint level (1: idea, 2: approach, 3: structure)
    solution("accuracy")         # where the worked solution is (after at least one check of it)

`check` runs the same hidden suite (autograder/course/<stem>/tests.py, same tests, same points) that
the course's grader runs, one test at a time through `autograder.suite.run_test`, against a
`LocalStudent` holding this kernel's namespace. It prints each test's state, points and the
framework's message (what is wrong, never the expected values and never the test code). Like the
grader, a test that runs longer than `test_timeout` seconds counts as "timeout" with 0 points.
A test whose function is not defined in the kernel yet is "not run yet" (0 points, and the note
names the exercise whose cell to run); the grader calls the same case "error", since a submitted
notebook has run every cell. Points are the same either way.
The learner's random number generators are restored afterwards, so a check does not change what
later cells of the notebook compute.

Which notebook: the `stem` argument, else the stem the setup cell gave to
`course_lib.env.setup_notebook` (recorded by `course_lib.env.current_stem()`). Nothing here reads
the .ipynb file, so it works in Colab, where the notebook is not on the local disk.
"""

from __future__ import annotations

import difflib
import math
import random
import signal
import sys
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autograder import content
from autograder import suite as framework
from autograder.student import LocalStudent
from autograder.suite import HiddenTest, Result, Suite

__all__ = [
    "check",
    "hint",
    "solution",
    "SelfCheckReport",
    "available_stems",
    "load_hints",
    "colab_url",
    "reset_progress",
    "DEFAULT_TEST_TIMEOUT",
]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEST_TIMEOUT = 60.0  # the grader's default --test-timeout
NOT_RUN = "not run yet"  # the self-check's state for a test whose function this kernel has not defined
TABLE_WIDTH = 100  # JupyterLab's output column at 1280 px; no line of the table is wider

# What this kernel has done so far: tests checked per (stem, function) and the hint level shown.
_CHECKED: dict[tuple[str, str], int] = {}
_HINT_LEVEL: dict[tuple[str, str], int] = {}


class _SelfCheckTimeout(BaseException):
    """Raised by the alarm inside a hidden test; a BaseException so student-error wrappers let it through."""


@dataclass
class SelfCheckReport:
    """The outcome of one `check()` call; `points` is what the course's grader gives the same code."""

    stem: str
    results: list[Result] = field(default_factory=list)
    exercise: str | None = None

    @property
    def points(self) -> float:
        return round(sum(r.points for r in self.results), 4)

    @property
    def max_points(self) -> float:
        return round(sum(r.max_points for r in self.results), 4)

    @property
    def states(self) -> dict[str, str]:
        return {r.test: r.state for r in self.results}

    def table(self) -> str:
        """The per-test table that `check` prints."""
        return _format_table(self)

    def __repr__(self) -> str:
        what = f"{self.stem}" + (f", {self.exercise}" if self.exercise else "")
        return f"<self-check {what}: {_fmt(self.points)} / {_fmt(self.max_points)} points>"


# ---------------------------------------------------------------------------------------------
# Finding the notebook, the suite and the learner's namespace


def available_stems() -> list[str]:
    """Notebook stems that have hidden tests in this installation."""
    return content.stems()


def _resolve_stem(stem: str | None) -> str:
    if stem is None:
        try:
            from course_lib.env import current_stem

            stem = current_stem()
        except ImportError:
            stem = None
        if stem is None:
            raise ValueError(
                "Which notebook? Run the notebook's setup cell first (it calls "
                "course_lib.env.setup_notebook), or pass the stem, e.g. check('03_early_exit')."
            )
    if not isinstance(stem, str):
        raise TypeError(f"stem must be a notebook name such as '03_early_exit', got {type(stem).__name__}")
    stems = available_stems()
    if stem not in stems:
        close = [s for s in stems if s.startswith(stem[:2])]
        extra = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"No hidden tests for a notebook called {stem!r}.{extra} Available: {', '.join(stems) or 'none'}."
        )
    return stem


def _graded_functions(suite: Suite) -> list[str]:
    names: list[str] = []
    for t in suite.tests:
        for name in t.uses:
            if name not in names:
                names.append(name)
    return names


def _normalise_exercise(text: str) -> str:
    """'test_accuracy', 'accuracy_impl' and 'accuracy' all name the same exercise."""
    text = text.strip()
    if text.startswith("test_"):
        text = text[len("test_") :]
    if text.endswith("_impl"):
        text = text[: -len("_impl")]
    return text


def _unknown_name(given: str, candidates: list[str], fallback: list[str], where: str) -> ValueError:
    """'no exercise named X: did you mean Y?' when a candidate is close, else the fallback list of names."""
    close = difflib.get_close_matches(_normalise_exercise(given), list(dict.fromkeys(candidates)), n=3, cutoff=0.6)
    if close:
        options = " or ".join(repr(c) for c in close)
        return ValueError(f"no exercise named {given!r}{where}: did you mean {options}?")
    if not fallback:
        return ValueError(
            f"no exercise named {given!r} in any notebook. Run the notebook's setup cell first, "
            "or pass stem='<notebook>', to see its exercises."
        )
    return ValueError(f"no exercise named {given!r}{where}. Its exercises: {', '.join(fallback)}.")


def _exercise_number(suite: Suite, name: str) -> int | None:
    """The 1-based number of the exercise whose test cell grades `name` (as check(exercise=N) counts)."""
    grade_ids = suite.grade_ids()
    if f"test_{name}" in grade_ids:
        return grade_ids.index(f"test_{name}") + 1
    for test in suite.tests:
        if name in test.uses:
            return grade_ids.index(test.grade_id) + 1
    return None


def _select_tests(suite: Suite, exercise: str | int | None) -> tuple[list[HiddenTest], str | None]:
    """The tests of one exercise: a graded function's name, a test cell's grade_id, or its number (1-based)."""
    if exercise is None:
        return list(suite.tests), None
    grade_ids = suite.grade_ids()
    if isinstance(exercise, bool) or not isinstance(exercise, (int, str)):
        raise TypeError(
            f"exercise must be a function name, a grade_id or an exercise number, got {type(exercise).__name__}"
        )
    if isinstance(exercise, int):
        if not 1 <= exercise <= len(grade_ids):
            raise ValueError(
                f"{suite.stem} has exercises 1 to {len(grade_ids)} with hidden tests; got exercise={exercise}"
            )
        gid = grade_ids[exercise - 1]
        return [t for t in suite.tests if t.grade_id == gid], gid
    if exercise in grade_ids:
        return [t for t in suite.tests if t.grade_id == exercise], exercise
    name = _normalise_exercise(exercise)
    chosen = [t for t in suite.tests if name in t.uses or t.grade_id == f"test_{name}"]
    if not chosen:
        here = _graded_functions(suite)
        elsewhere = [
            s for s in available_stems() if s != suite.stem and name in _graded_functions(framework.load_suite(s))
        ]
        if elsewhere:
            raise ValueError(
                f"{exercise!r} is an exercise of {elsewhere[0]}, not of {suite.stem}: "
                f"check({elsewhere[0]!r}, exercise={name!r})"
            )
        raise _unknown_name(exercise, here, here, f" in {suite.stem}")
    return chosen, name


def _caller_namespace() -> dict:
    """The namespace the learner's cells run in: IPython's user_ns, else the __main__ module's globals."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and isinstance(getattr(shell, "user_ns", None), dict):
        return shell.user_ns
    main = sys.modules.get("__main__")
    if main is None:
        raise RuntimeError("no __main__ module to read the learner's functions from; pass namespace=")
    return vars(main)


# ---------------------------------------------------------------------------------------------
# Running the tests


class _RngGuard:
    """Save python, numpy and torch random states on enter and restore them on exit."""

    def __enter__(self) -> _RngGuard:
        self.py = random.getstate()
        self.np = np.random.get_state()
        self.torch = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        return self

    def __exit__(self, *exc: Any) -> None:
        random.setstate(self.py)
        np.random.set_state(self.np)
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _run_one(test: HiddenTest, student: LocalStudent, timeout: float | None) -> Result:
    """framework.run_test with the grader's per-test time limit (SIGALRM, main thread, POSIX only)."""
    if not timeout or not _can_use_alarm():
        return framework.run_test(test, student)

    def on_alarm(signum: int, frame: Any) -> None:
        raise _SelfCheckTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(timeout))
    try:
        return framework.run_test(test, student)
    except _SelfCheckTimeout:
        return Result(
            test.name,
            test.grade_id,
            "timeout",
            0.0,
            test.points,
            f"the test took longer than {timeout:g} s (infinite loop?)",
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _not_run_yet(test: HiddenTest, suite: Suite, missing: list[str]) -> Result:
    """The self-check's result for a test whose functions this kernel has not defined (0 points)."""
    parts = []
    for name in missing:
        number = _exercise_number(suite, name)
        parts.append(f"exercise {number}, {name}" if number is not None else name)
    cells = "its cell" if len(parts) == 1 else "their cells"
    return Result(test.name, test.grade_id, NOT_RUN, 0.0, test.points, f"run {cells} ({'; '.join(parts)})")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _note_lines(text: str) -> list[str]:
    """A test's note under its row: indented, wrapped to the table's width, at most three lines."""
    text = " ".join(str(text).split())
    if not text:
        return []
    return textwrap.wrap(
        text, TABLE_WIDTH, initial_indent="    ", subsequent_indent="    ", max_lines=3, placeholder=" ..."
    )


def _format_table(report: SelfCheckReport) -> str:
    numbers = {gid: str(i) for i, gid in enumerate(_grade_ids_of(report.stem), 1)}
    rows = [
        (numbers.get(r.grade_id, "?"), _clip(r.test), r.state, f"{_fmt(r.points)}/{_fmt(r.max_points)}")
        for r in report.results
    ]
    head = ("ex", "test", "state", "points")
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) if rows else len(head[i]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row, r in zip(rows, report.results, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines.extend(_note_lines(r.message))
    title = f"Self-check of {report.stem}" + (f" (exercise {report.exercise})" if report.exercise else "")
    total = f"Total: {_fmt(report.points)} / {_fmt(report.max_points)} points"
    done = sum(r.state == "passed" for r in report.results)
    summary = f"{total} ({done} of {len(report.results)} hidden tests passed)."
    if done == len(report.results) and report.results:
        advice = "All hidden tests of this selection pass: the course's grader gives the same points for this code."
    else:
        states = {r.state for r in report.results if r.state != "passed"}
        tips = []
        if NOT_RUN in states:
            tips.append(f"'{NOT_RUN}': run the exercise's cell (and the cells above it), then check again")
        if "not attempted" in states:
            tips.append("'not attempted': the function still raises NotImplementedError")
        if "error" in states:
            tips.append("'error': your code raised an exception; the note says which")
        if "failed" in states:
            tips.append("'failed': it ran but the result is wrong; the note says which property")
        if "timeout" in states:
            tips.append("'timeout': it took too long (a loop that never ends?)")
        advice = "; ".join(tips) + ". Stuck? hint('<function>') gives the next hint."
    return "\n".join([title, "", *lines, "", summary, *textwrap.wrap(advice, TABLE_WIDTH)])


def _grade_ids_of(stem: str) -> list[str]:
    try:
        return framework.load_suite(stem).grade_ids()
    except (FileNotFoundError, TypeError):
        return []


def _clip(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def check(
    stem: str | None = None,
    exercise: str | int | None = None,
    *,
    namespace: dict | None = None,
    test_timeout: float | None = DEFAULT_TEST_TIMEOUT,
    verbose: bool = True,
) -> SelfCheckReport:
    """Run the notebook's hidden tests on the functions defined in this kernel and print the points.

    stem: notebook stem (default: the one given to the setup cell's setup_notebook).
    exercise: a graded function's name ('accuracy'), its test cell's grade_id ('test_accuracy') or
        the exercise number among the graded test cells (1-based); default every exercise.
    namespace: where the learner's functions live (default: the running kernel's namespace).
    test_timeout: seconds per hidden test, as the grader (None: no limit).
    """
    stem = _resolve_stem(stem)
    if test_timeout is not None and (
        not isinstance(test_timeout, (int, float))
        or isinstance(test_timeout, bool)
        or not math.isfinite(test_timeout)
        or test_timeout <= 0
    ):
        raise ValueError(f"test_timeout must be a positive number of seconds or None, got {test_timeout!r}")
    suite = framework.load_suite(stem)
    tests, label = _select_tests(suite, exercise)
    ns = _caller_namespace() if namespace is None else namespace
    if not isinstance(ns, dict):
        raise TypeError(f"namespace must be a dict of the learner's names, got {type(ns).__name__}")
    student = LocalStudent(ns)
    results: list[Result] = []
    with _RngGuard():
        for test in tests:
            missing = [name for name in test.uses if not student.has(name)]
            results.append(_not_run_yet(test, suite, missing) if missing else _run_one(test, student, test_timeout))
    for test in tests:
        for name in test.uses:
            _CHECKED[(stem, name)] = _CHECKED.get((stem, name), 0) + 1
    report = SelfCheckReport(stem, results, label)
    if verbose:
        print(report.table())
    return report


# ---------------------------------------------------------------------------------------------
# Hints


def load_hints(stem: str) -> dict[str, list[str]]:
    """HINTS of autograder/course/<stem>/hints.py ({function: [level 1, level 2, level 3]}); {} when absent."""
    if not content.has(stem, "hints"):
        return {}
    hints = getattr(content.load(stem, "hints"), "HINTS", None)
    if not isinstance(hints, dict):
        raise TypeError(f"{content.path_of(stem, 'hints')} must define HINTS = {{function_name: [hint, ...]}}")
    return hints


def _hint_stems() -> list[str]:
    return [stem for stem in content.stems() if content.has(stem, "hints")]


def _find_function(function_name: str, stem: str | None) -> tuple[str, str, list[str]]:
    """(stem, function, hints) for a function name, searching the current notebook first."""
    if not isinstance(function_name, str) or not function_name.strip():
        raise TypeError("give the graded function's name as a string, e.g. hint('accuracy')")
    name = _normalise_exercise(function_name)
    current = stem
    if current is None:
        try:
            from course_lib.env import current_stem

            current = current_stem()
        except ImportError:
            current = None
    order = [stem] if stem is not None else ([current] if current else []) + [s for s in _hint_stems() if s != current]
    for candidate in order:
        hints = load_hints(candidate)
        if name in hints:
            return candidate, name, list(hints[name])
    candidates = [n for candidate in order for n in load_hints(candidate)]
    here = list(load_hints(current)) if current else []  # with no notebook set up, no list of 32 names
    where = f" in {stem}" if stem is not None else ""
    raise _unknown_name(function_name, candidates, here, where)


def hint(function_name: str, level: int | None = None, *, stem: str | None = None) -> None:
    """Print a hint for a graded function; each call without `level` reveals the next level."""
    stem_found, name, hints = _find_function(function_name, stem)
    key = (stem_found, name)
    shown = _HINT_LEVEL.get(key, 0)
    if level is None:
        level = min(shown + 1, len(hints))
    elif isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= len(hints):
        raise ValueError(f"level must be an int from 1 to {len(hints)} for {name}, got {level!r}")
    _HINT_LEVEL[key] = max(shown, level)
    kinds = {1: "the idea", 2: "the approach", 3: "the structure, key step left to you"}
    text = (
        f"Hint {level}/{len(hints)} for {name} ({stem_found}, {kinds.get(level, 'more detail')}):\n"
        f"{hints[level - 1].strip()}"
    )
    if level < len(hints):
        text += f"\n(Call hint({name!r}) again for the next level.)"
    else:
        text += (
            f"\n(That was the last hint. Still stuck after check()? solution({name!r}) tells you "
            f"where the worked solution is.)"
        )
    print("\n".join(textwrap.fill(line, TABLE_WIDTH) for line in text.splitlines()))


def reset_progress() -> None:
    """Forget the checks and hints of this kernel (tests use it; learners rarely need it)."""
    _CHECKED.clear()
    _HINT_LEVEL.clear()


# ---------------------------------------------------------------------------------------------
# Solutions


def colab_url(stem: str, folder: str = "solutions") -> str:
    """The Colab link of a notebook in the course repository (folder: solutions or notebooks)."""
    from autograder.tools.publishing import colab_url as publication_url
    from course_lib import release_info

    if folder not in ("solutions", "notebooks"):
        raise ValueError(f"folder must be 'solutions' or 'notebooks', got {folder!r}")
    return publication_url(release_info.REPOSITORY, release_info.BRANCH, stem, folder)


def _stem_of_function(name: str, stem: str | None) -> str:
    if stem is not None:
        return _resolve_stem(stem)
    try:
        from course_lib.env import current_stem

        current = current_stem()
    except ImportError:
        current = None
    candidates = ([current] if current in available_stems() else []) + [s for s in available_stems() if s != current]
    names: list[str] = []
    for candidate in candidates:
        graded = _graded_functions(framework.load_suite(candidate))
        if name in graded:
            return candidate
        names += graded
    here = _graded_functions(framework.load_suite(current)) if current in available_stems() else []
    raise _unknown_name(name, names, here, "")


def solution(function_name: str, *, stem: str | None = None) -> None:
    """Say where the worked solution of a graded function is, once it was checked in this kernel."""
    if not isinstance(function_name, str) or not function_name.strip():
        raise TypeError("give the graded function's name as a string, e.g. solution('accuracy')")
    name = _normalise_exercise(function_name)
    stem = _stem_of_function(name, stem)
    graded = _graded_functions(framework.load_suite(stem))
    if name not in graded:
        raise _unknown_name(function_name, graded, graded, f" in {stem}")
    if _CHECKED.get((stem, name), 0) == 0:
        print(
            f"Not yet: try {name} first and run check(exercise={name!r}) at least once in this session. "
            f"Working through a failing test with hint({name!r}) teaches more than reading the answer; "
            f"after one check, solution({name!r}) shows where the worked solution is."
        )
        return
    local = ROOT / "solutions" / f"{stem}.ipynb"
    url = colab_url(stem)
    lines = [
        f"Worked solution of {name} ({stem}):",
        f"  in the course repository: solutions/{stem}.ipynb, the cell with grade_id {name}_impl"
        f" (between ### BEGIN SOLUTION and ### END SOLUTION)",
    ]
    if local.exists():
        lines.append(f"  on this machine: {local}")
    lines += [
        f"  in Colab (opens a separate copy; your notebook stays as it is): {url}",
        "Compare it with your version, then close it and rewrite yours from memory: check() again should pass.",
    ]
    print("\n".join(lines))
