"""Probes for 03_early_exit: run a graded function where the student's code lives, isolated from the
student's other graded functions, and watch what the model does (samples per stage, train/eval mode).

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
    if probe == "early_exit_trace":
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


def early_exit_trace(namespace: dict, model: Any, X: Any, threshold: float) -> dict:
    """Run early_exit_inference (trusted entropy) and record samples seen per stage and head, and eval mode."""
    counts = {"stage": [0] * len(model.stages), "head": [0] * len(model.exits)}
    modes: list[bool] = []
    handles = []

    def counter(kind: str, k: int):
        def hook(module, inputs, output):
            counts[kind][k] += int(inputs[0].shape[0])
            modes.append(bool(module.training))

        return hook

    for k, stage in enumerate(model.stages):
        handles.append(stage.register_forward_hook(counter("stage", k)))
    for k, head in enumerate(model.exits):
        handles.append(head.register_forward_hook(counter("head", k)))
    try:
        out = _call_isolated(namespace, "early_exit_inference", ("entropy",), model, X, threshold)
    finally:
        for handle in handles:
            handle.remove()
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("early_exit_inference should return a tuple (preds, exit_index)")
    return {
        "preds": out[0],
        "exit_index": out[1],
        "stage_counts": counts["stage"],
        "head_counts": counts["head"],
        "any_train_mode": any(modes),
    }
