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

import importlib.util
import io
import math
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "STATES",
    "TestFailure",
    "NotAttempted",
    "StudentError",
    "Missing",
    "HiddenTest",
    "Suite",
    "Result",
    "Student",
    "LocalStudent",
    "sanitize",
    "sanitize_bytes",
    "load_sanitized",
    "load_suite",
    "run_suite",
    "expect",
    "expect_close",
    "expect_shape",
    "expect_equal",
    "as_tensor",
]

STATES = ("passed", "failed", "error", "timeout", "kernel died", "not attempted")
HIDDEN_DIR = Path(__file__).resolve().parent / "hidden"


class TestFailure(AssertionError):
    """A check of a hidden test did not hold; the message is shown to the student."""


class NotAttempted(Exception):
    """The graded function still raises the stub's NotImplementedError."""


class StudentError(Exception):
    """The student's code raised; carries a short, test-free description."""


class Missing(Exception):
    """The graded function is not defined in the submission (deleted or renamed cell)."""


@dataclass
class HiddenTest:
    """One hidden test: which nbgrader test cell it belongs to, its points and what it calls."""

    name: str
    grade_id: str
    points: float
    uses: tuple[str, ...]
    func: Callable[["Student"], None]
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
        def register(func: Callable[["Student"], None]) -> Callable[["Student"], None]:
            if any(t.name == func.__name__ for t in self.tests):
                raise ValueError(f"duplicate hidden test name {func.__name__} in {self.stem}")
            doc = (func.__doc__ or "").strip().splitlines()
            self.tests.append(HiddenTest(func.__name__, grade_id, float(points), tuple(uses), func,
                                         doc[0] if doc else ""))
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
        """This stem's reference implementations, autograder/reference/<stem>.py (loaded once)."""
        from autograder.mutation import load_stem_module

        return load_stem_module("reference", self.stem)

    def probes(self) -> Any:
        """This stem's probes, autograder/probes/<stem>.py: trusted code run where the student's code lives."""
        from autograder.mutation import load_stem_module

        return load_stem_module("probes", self.stem)


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with a fixed seed, so that every grading run draws the same test inputs."""
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# Sanitizing what comes back from student code

def sanitize_bytes(value: Any) -> bytes:
    """Serialize a result with torch.save; tensors are detached and moved to the CPU first."""
    def prepare(v: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise TypeError("result is nested too deeply")
        if isinstance(v, torch.Tensor):
            if type(v) is not torch.Tensor and not isinstance(v, torch.nn.Parameter):
                raise TypeError(f"a tensor subclass ({type(v).__name__}) is not an accepted result")
            return v.detach().cpu().clone()
        if isinstance(v, np.ndarray):
            if type(v) is not np.ndarray:
                raise TypeError(f"an ndarray subclass ({type(v).__name__}) is not an accepted result")
            if v.dtype == object:
                raise TypeError("object arrays are not accepted results")
            return torch.from_numpy(np.ascontiguousarray(v).copy())
        if isinstance(v, np.generic):
            return v.item()
        if type(v) in (bool, int, float, str, type(None)):
            return v
        if type(v) in (list, tuple):
            items = [prepare(x, depth + 1) for x in v]
            return items if type(v) is list else tuple(items)
        if type(v) is dict:
            return {prepare(k, depth + 1): prepare(x, depth + 1) for k, x in v.items()}
        raise TypeError(f"a result of type {type(v).__module__}.{type(v).__qualname__} is not accepted; "
                        f"return tensors, arrays, numbers, or lists/tuples/dicts of them")
    buffer = io.BytesIO()
    torch.save(prepare(value), buffer)
    return buffer.getvalue()


def load_sanitized(data: bytes) -> Any:
    """Load bytes from `sanitize_bytes` allowing only plain data (torch's weights_only loader)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def sanitize(value: Any) -> Any:
    """Round-trip a value through the sanitizer: a detached plain-data copy, or TypeError."""
    return load_sanitized(sanitize_bytes(value))


# ---------------------------------------------------------------------------------------------
# Students

class Student:
    """Interface hidden tests use to reach the student's code."""

    def has(self, name: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - interface
        """Call graded function `name`; return a sanitized result or raise NotAttempted/StudentError/Missing."""
        raise NotImplementedError

    def probe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        """Run trusted `fn(namespace, *args, **kwargs)` where the student's code lives; sanitized result."""
        raise NotImplementedError


def describe_exception(err: BaseException) -> str:
    """A one-line description of a student exception with the innermost student frame, no test code."""
    frames = traceback.extract_tb(err.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "autograder" not in frame.filename.replace("\\", "/").split("/")[-2:-1] and \
                "/autograder/" not in frame.filename.replace("\\", "/"):
            where = f" (in {frame.name}, line {frame.lineno})"
            break
    text = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}{where}" if text else f"{type(err).__name__}{where}"


def call_in_namespace(namespace: dict, name: str, args: tuple, kwargs: dict) -> Any:
    """Call namespace[name] mapping the stub's NotImplementedError and other errors to grader exceptions."""
    func = namespace.get(name)
    if func is None or not callable(func):
        raise Missing(f"`{name}` is not defined in the submission (was its cell deleted or renamed?)")
    try:
        return func(*args, **kwargs)
    except NotImplementedError as err:
        raise NotAttempted(f"`{name}` still raises NotImplementedError (not attempted)") from err
    except (KeyboardInterrupt, SystemExit) as err:
        raise StudentError(f"`{name}` tried to stop the process ({type(err).__name__})") from err
    except Exception as err:  # the student's bug
        raise StudentError(f"`{name}` raised {describe_exception(err)}") from err


class LocalStudent(Student):
    """The student's functions live in `namespace` in this very process."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def has(self, name: str) -> bool:
        return callable(self.namespace.get(name))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = call_in_namespace(self.namespace, name, args, kwargs)
        try:
            return sanitize(result)
        except Exception as err:
            raise StudentError(f"`{name}` returned an unusable value: {err}") from err

    def probe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(self.namespace, *args, **kwargs)
        except (TestFailure, NotAttempted, StudentError, Missing):
            raise
        except NotImplementedError as err:
            raise NotAttempted("the graded code still raises NotImplementedError (not attempted)") from err
        except Exception as err:
            raise StudentError(f"the student's code raised {describe_exception(err)}") from err
        try:
            return sanitize(result)
        except Exception as err:
            raise StudentError(f"the student's code produced an unusable value: {err}") from err


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
        expect(type(actual) in (int, float, bool, str, type(None), list, tuple, dict) and actual == expected,
               f"{what}: got {actual!r}")


def is_close_number(value: Any, target: float, tol: float) -> bool:
    """True when a sanitized scalar is a finite number within tol of target."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and abs(value - target) <= tol


# ---------------------------------------------------------------------------------------------
# Loading and running suites

def load_suite(stem: str) -> Suite:
    """Import autograder/hidden/<stem>.py and return its `SUITE`."""
    path = HIDDEN_DIR / f"{stem}.py"
    if not path.exists():
        raise FileNotFoundError(f"no hidden tests for notebook {stem!r} (expected {path})")
    module_name = f"autograder.hidden._nb_{stem}"
    if module_name in sys.modules:
        return sys.modules[module_name].SUITE
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    suite = getattr(module, "SUITE", None)
    if not isinstance(suite, Suite):
        raise TypeError(f"{path} must define SUITE = Suite({stem!r})")
    return suite


def run_test(test: HiddenTest, student: Student) -> Result:
    """Run one hidden test and map its outcome to a Result (never raises for student faults)."""
    def result(state: str, message: str = "") -> Result:
        return Result(test.name, test.grade_id, state, test.points if state == "passed" else 0.0,
                      test.points, message)
    missing = [name for name in test.uses if not student.has(name)]
    if missing:
        return result("error", f"not defined in the submission: {', '.join(missing)} "
                               f"(was a cell deleted, renamed or never run?)")
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
    except Exception as err:  # a fault in the test itself on odd input; report without test code
        return result("error", f"could not check the result ({type(err).__name__}: {str(err)[:200]})")
    return result("passed", test.description)


def run_suite(stem: str, student: Student, grade_ids: Iterable[str] | None = None) -> list[Result]:
    """Run every hidden test of `stem` (or those of the given test cells) against `student`."""
    suite = load_suite(stem)
    wanted = set(grade_ids) if grade_ids is not None else None
    return [run_test(t, student) for t in suite.tests if wanted is None or t.grade_id in wanted]
