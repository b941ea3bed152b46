"""Probes for 03_early_exit: run a graded function where the student's code lives, isolated from the
student's other graded functions. They only return what the graded function returned: evidence kept in the
student's process (counters, hooks, flags) could be forged there, so the judge decides from outputs.

Isolation: while a graded function runs, the helpers it may call by name (e.g. `entropy`) are swapped
for the course's trusted versions in that function's globals, so one exercise's bug cannot cost
another exercise's points. Everything returned is plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STEM = "03_early_exit"
_MISSING = object()


def reference_helpers(probe: str, args: tuple) -> tuple[str, ...]:
    """Trusted functions probe `probe` called with `args` swaps in (never the graded function itself).

    Called by the grader's judge, which ships exactly these to the sandboxed runner (the runner cannot
    read autograder/course): see autograder/grader/trusted.py.
    """
    if probe == "call_isolated" and len(args) >= 2:
        return tuple(str(h) for h in args[1] if h != args[0])
    if probe == "early_exit_run":
        return ("entropy",)
    return ()


def _trusted(name: str) -> Any:
    from autograder.grader.trusted import reference_function

    return reference_function(STEM, name)


def _call_isolated(namespace: dict, name: str, helpers: Sequence[str], *args: Any) -> Any:
    func = namespace.get(name)
    if not callable(func):
        from autograder.suite import Missing

        raise Missing(f"`{name}` is not defined in the submission")
    scope = getattr(func, "__globals__", None)
    saved = {}
    if isinstance(scope, dict):
        for helper in helpers:
            if helper == name:
                continue
            saved[helper] = scope.get(helper, _MISSING)
            scope[helper] = _trusted(helper)
    try:
        return func(*args)
    finally:
        for helper, value in saved.items():
            if value is _MISSING:
                scope.pop(helper, None)
            else:
                scope[helper] = value


def call_isolated(namespace: dict, name: str, helpers: Sequence[str], *args: Any) -> Any:
    """Call graded function `name` with trusted versions of `helpers`; return its result."""
    return _call_isolated(namespace, name, helpers, *args)


def early_exit_run(namespace: dict, model: Any, X: Any, threshold: float) -> dict:
    """Run early_exit_inference (trusted entropy); return its predictions and exit indices, nothing else.

    No counters or flags are kept here: whatever this process records, the student's code could rewrite
    (through the call stack) or dodge (calling a module's forward directly). The judge decides compaction
    and eval mode from these outputs alone, on models whose outputs show both (see tests.py).
    """
    out = _call_isolated(namespace, "early_exit_inference", ("entropy",), model, X, threshold)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("early_exit_inference should return a tuple (preds, exit_index)")
    return {"preds": out[0], "exit_index": out[1]}
