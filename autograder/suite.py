"""The hidden-test contract shared by every notebook's test module.

A hidden test is a function `test(student)` registered on a `Suite`. It never touches the
student's objects directly: it asks `student.call(name, *args)` to run a graded function and
gets back a *sanitized* copy of the result (tensors, arrays, numbers, strings and lists, tuples
and dicts of those, round-tripped through `torch.load(weights_only=True)`), or
`student.probe(fn, *args)` to run a trusted probe function from an autograder module inside the
student's process. Two implementations of `Student` exist:

- `LocalStudent(namespace)`: same process (nbgrader's hidden cells, self-grading, unit tests);
- the grader's remote student (autograder/grader): the student's code runs in a separate
  process and only sanitized bytes come back, so spoofed objects and monkeypatched torch in the
  student's process cannot reach the checks.

States of a result: passed, failed, error, timeout, kernel died, not attempted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from autograder import content
from autograder.student import LocalStudent, Missing, NotAttempted, Student, StudentError, TestFailure

__all__ = [
    "STATES",
    "TestFailure",
    "NotAttempted",
    "StudentError",
    "Missing",
    "HiddenTest",
    "Suite",
    "Result",
    "Mutant",
    "seeded",
    "load_suite",
    "run_test",
    "run_suite",
    "run_cell",
    "reference_namespace",
    "check_reference",
    "check_mutant",
    "expect",
    "expect_raises",
    "expect_close",
    "expect_shape",
    "expect_equal",
    "as_tensor",
]

STATES = ("passed", "failed", "error", "timeout", "kernel died", "not attempted")


@dataclass
class HiddenTest:
    """One hidden test: which nbgrader test cell it belongs to, its points and what it calls."""

    name: str
    grade_id: str
    points: float
    uses: tuple[str, ...]
    func: Callable[[Student], None]
    description: str = ""


@dataclass
class Result:
    """The outcome of one hidden test on one submission."""

    test: str
    grade_id: str
    state: str
    points: float
    max_points: float
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class Suite:
    """The hidden tests of one notebook stem, in registration order."""

    def __init__(self, stem: str) -> None:
        self.stem = stem
        self.tests: list[HiddenTest] = []

    def test(self, grade_id: str, points: float, uses: Sequence[str]) -> Callable:
        """Decorator registering a hidden test for the test cell `grade_id`."""

        def register(func: Callable[[Student], None]) -> Callable[[Student], None]:
            if any(t.name == func.__name__ for t in self.tests):
                raise ValueError(f"duplicate hidden test name {func.__name__} in {self.stem}")
            doc = (func.__doc__ or "").strip().splitlines()
            self.tests.append(
                HiddenTest(func.__name__, grade_id, float(points), tuple(uses), func, doc[0] if doc else "")
            )
            return func

        return register

    def grade_ids(self) -> list[str]:
        seen: list[str] = []
        for t in self.tests:
            if t.grade_id not in seen:
                seen.append(t.grade_id)
        return seen

    def points_by_grade_id(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for t in self.tests:
            totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.points
        return totals

    @property
    def max_points(self) -> float:
        return sum(t.points for t in self.tests)

    def reference(self) -> Any:
        """This stem's reference implementations, course/<stem>/reference.py (generated from the solutions)."""
        return content.load(self.stem, "reference")

    def helpers(self) -> Any:
        """This stem's hand-written trusted helpers, course/<stem>/helpers.py."""
        return content.load(self.stem, "helpers")

    def probes(self) -> Any:
        """This stem's probes, course/<stem>/probes.py: trusted code run where the student's code lives."""
        return content.load(self.stem, "probes")


@dataclass
class Mutant:
    """A known-wrong variant of a notebook's answers: `overrides` replace names of the reference namespace."""

    description: str
    targets: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with a fixed seed, so that every grading run draws the same test inputs."""
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# Checks used inside hidden tests (messages are shown to students; never include the reference)


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """Convert a sanitized result to a float64 tensor or fail with a clear message."""
    if isinstance(value, torch.Tensor):
        return value.detach().double()
    try:
        return torch.as_tensor(np.asarray(value, dtype=float))
    except Exception as err:
        raise TestFailure(f"{what}: expected a tensor or array, got {type(value).__name__}") from err


def expect(condition: bool, message: str) -> None:
    """Fail the test with `message` unless `condition` holds."""
    if not bool(condition):
        raise TestFailure(message)


def expect_raises(
    student: Student, name: str, *args: Any, error: str | None = "ValueError", what: str = "", **kwargs: Any
) -> None:
    """Fail unless calling graded function `name` raises `error`, matched by class name (None: any exception).

    `what` names the bad input for the message, e.g. "y has shape (N, 1)". Works with any Student: the
    class name is read from the StudentError message ("`name` raised ValueError: ..."), the only thing
    that comes back from the grader's sandboxed process.
    """
    wanted = error or "an error"
    when = f" when {what}" if what else ""
    try:
        student.call(name, *args, **kwargs)
    except (TestFailure, NotAttempted, Missing):
        raise
    except StudentError as err:
        raised = _raised_class(str(err))
        if error is None or raised == error:
            return
        got = f"it raised {raised}" if raised else f"it failed another way ({str(err)[:200]})"
        raise TestFailure(f"`{name}` should raise {wanted}{when}; {got}") from None
    raise TestFailure(f"`{name}` should raise {wanted}{when}; it returned a value")


def _raised_class(message: str) -> str:
    """The exception class named by a StudentError message ("`f` raised ValueError: ..."), or ""."""
    found = re.search(r" raised ([A-Za-z_][A-Za-z0-9_]*)", message)
    return found.group(1) if found else ""


def expect_shape(value: Any, shape: Sequence[int], what: str) -> None:
    """Fail unless `value` (a sanitized tensor/array) has exactly `shape`."""
    actual = tuple(value.shape) if hasattr(value, "shape") else None
    expect(actual == tuple(shape), f"{what}: expected shape {tuple(shape)}, got {actual}")


def expect_close(actual: Any, expected: Any, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Fail unless `actual` matches `expected` within tolerances (shapes must agree)."""
    a, e = as_tensor(actual, what), as_tensor(expected, what)
    expect(tuple(a.shape) == tuple(e.shape), f"{what}: expected shape {tuple(e.shape)}, got {tuple(a.shape)}")
    if a.numel() == 0:
        return
    expect(bool(torch.isfinite(a).all()) or not bool(torch.isfinite(e).all()), f"{what}: contains NaN or inf")
    diff = (a - e).abs()
    ok = bool((diff <= atol + rtol * e.abs()).all())
    expect(ok, f"{what}: values differ from the expected ones (max abs difference {float(diff.max()):.3g})")


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    """Fail unless two sanitized values are exactly equal (integers, index tensors, strings)."""
    if isinstance(expected, torch.Tensor) or isinstance(actual, torch.Tensor):
        a, e = as_tensor(actual, what), as_tensor(expected, what)
        expect(tuple(a.shape) == tuple(e.shape), f"{what}: expected shape {tuple(e.shape)}, got {tuple(a.shape)}")
        mismatches = int((a != e).sum())
        expect(mismatches == 0, f"{what}: {mismatches} of {e.numel()} entries differ from the expected ones")
    else:
        expect(
            type(actual) in (int, float, bool, str, type(None), list, tuple, dict) and actual == expected,
            f"{what}: got {actual!r}",
        )


def is_close_number(value: Any, target: float, tol: float) -> bool:
    """True when a sanitized scalar is a finite number within tol of target."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value - target) <= tol
    )


# ---------------------------------------------------------------------------------------------
# Loading and running suites


def load_suite(stem: str) -> Suite:
    """The `SUITE` of autograder/course/<stem>/tests.py."""
    if not content.has(stem, "tests"):
        raise FileNotFoundError(f"no hidden tests for notebook {stem!r} (expected {content.path_of(stem, 'tests')})")
    return suite_of(content.load(stem, "tests"), stem)


def suite_of(module: Any, stem: str) -> Suite:
    """A module's `SUITE`, or a TypeError saying what the module must define."""
    suite = getattr(module, "SUITE", None)
    if not isinstance(suite, Suite):
        raise TypeError(f"{getattr(module, '__file__', module)} must define SUITE = Suite({stem!r})")
    return suite


def run_test(test: HiddenTest, student: Student) -> Result:
    """Run one hidden test and map its outcome to a Result (never raises for student faults)."""

    def result(state: str, message: str = "") -> Result:
        return Result(test.name, test.grade_id, state, test.points if state == "passed" else 0.0, test.points, message)

    missing = [name for name in test.uses if not student.has(name)]
    if missing:
        return result(
            "error", f"not defined in the submission: {', '.join(missing)} (was a cell deleted, renamed or never run?)"
        )
    from course_lib.env import uncapped

    try:
        with uncapped():  # a smoke test's training cap never reaches the tests' own small runs
            test.func(student)
    except TestFailure as err:
        return result("failed", str(err))
    except NotAttempted as err:
        return result("not attempted", str(err))
    except (StudentError, Missing) as err:
        return result("error", str(err))
    except Exception as err:  # noqa: BLE001 - a fault in the test itself on odd input; report without test code
        return result("error", f"could not check the result ({type(err).__name__}: {str(err)[:200]})")
    return result("passed", test.description)


def run_suite(stem: str, student: Student, grade_ids: Iterable[str] | None = None) -> list[Result]:
    """Run every hidden test of `stem` (or those of the given test cells) against `student`."""
    suite = load_suite(stem)
    wanted = set(grade_ids) if grade_ids is not None else None
    return [run_test(t, student) for t in suite.tests if wanted is None or t.grade_id in wanted]


def reference_namespace(stem: str) -> dict[str, Any]:
    """A fresh namespace holding the reference implementations of `stem`'s graded functions."""
    return dict(vars(content.load(stem, "reference")))


def check_reference(stem: str) -> list[Result]:
    """Results of the hidden tests on the reference implementations (all should pass)."""
    return run_suite(stem, LocalStudent(reference_namespace(stem)))


def check_mutant(stem: str, mutant: Mutant) -> dict[str, Result]:
    """Results, keyed by test name, of the mutant's target tests."""
    namespace = reference_namespace(stem)
    namespace.update(mutant.overrides)
    suite = load_suite(stem)
    unknown = set(mutant.targets) - {t.name for t in suite.tests}
    if unknown:
        raise KeyError(f"mutant {mutant.description!r} targets unknown tests {sorted(unknown)}")
    grade_ids = {t.grade_id for t in suite.tests if t.name in mutant.targets}
    results = run_suite(stem, LocalStudent(namespace), grade_ids)
    return {r.test: r for r in results if r.test in mutant.targets}


def run_cell(stem: str, grade_id: str, namespace: dict) -> None:
    """What the hidden block of an nbgrader test cell calls: run that cell's hidden tests in this kernel."""
    results = run_suite(stem, LocalStudent(namespace), [grade_id])
    if not results:
        raise AssertionError(f"no hidden tests registered for {stem}/{grade_id}")
    bad = [r for r in results if r.state != "passed"]
    for r in results:
        print(f"  hidden {r.test}: {r.state}" + (f" - {r.message}" if r.state != "passed" else ""))
    if bad:
        raise AssertionError(f"{len(bad)} of {len(results)} hidden tests failed for {grade_id}")
