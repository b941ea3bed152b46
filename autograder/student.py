"""Students: how hidden tests reach the code they grade, and what may come back from it.

`Student` is the interface; `LocalStudent(namespace)` runs the student's functions in this very
process (nbgrader's hidden cells, the self-check, the mutation tests); the grader's remote student
(autograder/grader/judge.py) runs them in a sandboxed process. Either way, only *sanitized* values
come back: tensors, arrays, numbers, strings and lists, tuples and dicts of those, round-tripped
through `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import io
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = [
    "TestFailure",
    "NotAttempted",
    "StudentError",
    "Missing",
    "Student",
    "LocalStudent",
    "sanitize",
    "sanitize_bytes",
    "load_sanitized",
    "describe_exception",
    "call_in_namespace",
    "raised_error_name",
]


class TestFailure(AssertionError):
    """A check of a hidden test did not hold; the message is shown to the student."""


class NotAttempted(Exception):
    """The graded function still raises the stub's NotImplementedError."""


class StudentError(Exception):
    """The student's code raised; carries a short, test-free description."""


class Missing(Exception):
    """The graded function is not defined in the submission (deleted or renamed cell)."""


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
        raise TypeError(
            f"a result of type {type(v).__module__}.{type(v).__qualname__} is not accepted; "
            f"return tensors, arrays, numbers, or lists/tuples/dicts of them"
        )

    buffer = io.BytesIO()
    torch.save(prepare(value), buffer)
    return buffer.getvalue()


def load_sanitized(data: bytes) -> Any:
    """Load bytes from `sanitize_bytes` allowing only plain data (torch's weights_only loader)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def sanitize(value: Any) -> Any:
    """Round-trip a value through the sanitizer: a detached plain-data copy, or TypeError."""
    return load_sanitized(sanitize_bytes(value))


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
        if "autograder" not in frame.filename.replace("\\", "/").split("/")[
            -2:-1
        ] and "/autograder/" not in frame.filename.replace("\\", "/"):
            where = f" (in {frame.name}, line {frame.lineno})"
            break
    text = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}{where}" if text else f"{type(err).__name__}{where}"


def raised_error_name(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The class name of the exception `fn(*args, **kwargs)` raises, or "no error" if it returns.

    For probes, which run in the student's process and so cannot use `autograder.suite.expect_raises`
    (that one takes a Student). The stub's NotImplementedError propagates (the test reads it as not attempted).
    """
    try:
        fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - which error the student's code raises is what the test checks
        return type(err).__name__
    return "no error"


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
