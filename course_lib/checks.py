"""Visible self-checks used right after each exercise: shapes, dtypes, invariants, closeness.

They raise AssertionError with a message that says what differs, and on success print that the
public checks passed; the hidden tests that decide the grade run only at grading time.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "check_type",
    "check_shape",
    "check_dtype",
    "check_close",
    "check_true",
    "state_snapshot",
    "changed_tensors",
    "passed",
    "not_implemented",
    "exercise",
    "ExerciseNotDone",
]


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=float)


def check_type(value: Any, expected: type | tuple[type, ...], name: str = "value") -> None:
    """Fail unless `value` is an instance of `expected`.

    Introduced in 00_orientation.
    """
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise AssertionError(f"{name} should be a {names}, got {type(value).__name__}.")


def check_shape(value: Any, shape: Sequence[int | None], name: str = "value") -> None:
    """Fail unless `value` has `shape` (None matches any size on that axis).

    Introduced in 01_prediction_depth.
    """
    actual = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
    ok = len(actual) == len(shape) and all(s is None or s == a for s, a in zip(shape, actual, strict=True))
    if not ok:
        raise AssertionError(f"{name} should have shape {tuple(shape)}, got {tuple(actual)}.")


def check_dtype(value: torch.Tensor | np.ndarray, dtypes: Any, name: str = "value") -> None:
    """Fail unless the dtype of `value` is one of `dtypes`.

    Introduced in 01_prediction_depth.
    """
    allowed = dtypes if isinstance(dtypes, (tuple, list)) else (dtypes,)
    if value.dtype not in allowed:
        raise AssertionError(f"{name} should have dtype {' or '.join(map(str, allowed))}, got {value.dtype}.")


def check_close(actual: Any, expected: Any, name: str = "value", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Fail unless `actual` is within tolerance of `expected`; prints the max difference either way.

    Introduced in 00_orientation.
    """
    a, e = _as_array(actual), _as_array(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name} should have shape {e.shape}, got {a.shape}.")
    diff = float(np.max(np.abs(a - e))) if a.size else 0.0
    if not np.allclose(a, e, atol=atol, rtol=rtol, equal_nan=False):
        raise AssertionError(
            f"{name} differs from the expected value: max abs difference {diff:.3g} "
            f"(tolerance atol={atol:g}, rtol={rtol:g})."
        )
    print(f"  {name}: max abs difference {diff:.2g}")


def check_true(condition: bool, message: str) -> None:
    """Fail with `message` unless `condition` holds.

    Introduced in 00_orientation.
    """
    if not bool(condition):
        raise AssertionError(message)


def state_snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of every parameter and buffer of `module` (its state_dict), whatever device it is on.

    Introduced in 02_branchynet.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"state_snapshot needs a torch.nn.Module, got {type(module).__name__}.")
    return {name: value.detach().cpu().clone() for name, value in module.state_dict().items()}


def changed_tensors(before: Mapping[str, torch.Tensor], module: nn.Module) -> list[str]:
    """Names of the state entries of `module` that differ from the snapshot `before`, compared on the CPU.

    Safe when `fit` moved the module to a GPU after the snapshot was taken (torch.equal refuses tensors on
    two devices). An entry present on one side only counts as changed.

    Introduced in 02_branchynet.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"changed_tensors needs a torch.nn.Module to compare, got {type(module).__name__}.")
    after = state_snapshot(module)
    names = list(after) + [name for name in before if name not in after]
    return [
        name
        for name in names
        if name not in before
        or name not in after
        or not torch.equal(torch.as_tensor(before[name]).detach().cpu(), after[name])
    ]


def passed(exercise: str) -> None:
    """Print the standard success line of a visible check.

    Introduced in 00_orientation.
    """
    print(f"[{exercise}] public checks passed; hidden tests run at grading.")


class ExerciseNotDone(NotImplementedError):
    """Raised by a visible check whose exercise (or one it builds on) still holds its stub.

    Introduced in 00_orientation.
    """


def _show_message_only(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    """IPython handler for ExerciseNotDone: the message alone, no frames (the learner's next step is all it says)."""
    lines = [f"{etype.__name__}: {value}"]
    if hasattr(shell, "_showtraceback"):  # ipykernel and IPython: sends an error output with these lines
        shell._showtraceback(etype, value, lines)
    else:
        shell.showtraceback((etype, value, tb), exception_only=True)


def _install_short_traceback() -> None:
    """In IPython (Jupyter, Colab), show ExerciseNotDone as its message only; elsewhere nothing changes."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or ExerciseNotDone in getattr(shell, "custom_exceptions", ()):
        return
    shell.set_custom_exc((ExerciseNotDone,), _show_message_only)


def _innermost_function(tb: TracebackType | None) -> tuple[str, str]:
    """(function or class name, file name) of the frame that raised, the last one of the traceback.

    A method's frame names its class (`ExitHead.__init__` -> `ExitHead`): the exercise of a class is its name.
    """
    last = tb
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    if last is None:
        return "", ""
    code = last.tb_frame.f_code
    qualname = getattr(code, "co_qualname", code.co_name)  # Python 3.11+
    owner = qualname.split(".<locals>.")[-1].split(".")[0]
    return owner, code.co_filename


class exercise:  # lower case: used as `with cl.checks.exercise(...)`, like a function
    """The frame of one exercise's visible checks: `with cl.checks.exercise(2, "early_exit_inference"): ...`.

    On success it prints the standard "public checks passed" line, with the self-check pointer. When the body
    stops on a stub's NotImplementedError it raises ExerciseNotDone saying which exercise is not done yet and
    which function to fill in, instead of a bare traceback (in IPython shown as that message alone); every other
    error passes through unchanged.

    Introduced in 00_orientation.
    """

    def __init__(self, number: int, function: str) -> None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"exercise number must be a positive int, got {number!r}")
        if not isinstance(function, str) or not function.isidentifier():
            raise ValueError(f"function must be the name of the exercise's function, got {function!r}")
        self.number = number
        self.function = function
        self._namespace: dict[str, Any] = {}

    def __enter__(self) -> exercise:
        self._namespace = sys._getframe(1).f_globals  # the notebook's namespace: where its functions live
        _install_short_traceback()
        return self

    def _is_notebook_function(self, name: str, filename: str) -> bool:
        value = self._namespace.get(name)
        if isinstance(value, type):  # a class: any of its methods defined in that cell's file
            methods = [getattr(f, "__code__", None) for f in vars(value).values()]
            return any(code is not None and code.co_filename == filename for code in methods)
        code = getattr(value, "__code__", None)
        return code is not None and code.co_filename == filename

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            print(f"[{self.function}] public checks passed; hidden tests run at grading.")
            print(f'  self-study: from autograder.tools.selfcheck import check; check("{self.function}")')
            return
        if exc_type is not NotImplementedError or (exc is not None and exc.args):
            return  # a stub raises a bare NotImplementedError(); any other error is shown as it is
        where, filename = _innermost_function(tb)
        if where == self.function:
            message = (
                f"exercise {self.number} is not done yet:\nreplace `raise NotImplementedError()` in "
                f"{self.function} (the cell above) with your code,\nthen run that cell and this one again."
            )
        elif where and self._is_notebook_function(where, filename):
            message = (
                f"exercise {self.number}'s check stopped in {where}, which is not done yet:\n"
                f"{self.function} calls it; replace `raise NotImplementedError()` in {where} first."
            )
        else:
            return  # a NotImplementedError from library code: shown as it is
        raise ExerciseNotDone(message) from None


def not_implemented(name: str) -> NotImplementedError:
    """The error a stub raises, naming the function to write.

    Introduced in 00_orientation.
    """
    return NotImplementedError(f"{name} is not implemented yet: replace the stub in its cell.")
