"""Trusted code the judge ships to a runner that cannot read it from disk (the sandbox hides it).

Two uses, one mechanism (`closure_source`: a function's source plus the module-level definitions it
needs, transitively, and the module's imports; nothing else of the module):

- reference helpers: a probe that swaps a trusted implementation of another graded function into the
  student's globals (so that one exercise's bug cannot cost another exercise's points) names them in
  its module's ``reference_helpers(probe_name, args)`` and gets them with ``reference_function(STEM, name)``.
  The judge sends exactly those functions with the probe request; the runner defines them for the
  duration of that probe only. Outside the grader (nbgrader, self-checks, mutation tests) the
  reference module is loaded from disk.
- probes: the sandbox masks the whole autograder/course folder, so the judge always sends the probe
  function's closure rather than a path.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable
from typing import Any

__all__ = [
    "reference_function",
    "closure_source",
    "reference_closure",
    "install_reference",
    "clear_reference",
    "load_shipped",
]

_SUPPLIED: dict[tuple[str, str], Any] = {}


def reference_function(stem: str, name: str) -> Any:
    """The trusted implementation of graded function `name` of notebook `stem` (shipped or from disk)."""
    shipped = _SUPPLIED.get((stem, name))
    if shipped is not None:
        return shipped
    from autograder import content

    return getattr(content.load(stem, "reference"), name)


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def closure_source(source: str, names: Iterable[str]) -> str:
    """Source of the module-level definitions `names` and everything of the module they use by name."""
    tree = ast.parse(source)
    defs: dict[str, list[int]] = {}
    for i, node in enumerate(tree.body):
        for n in _defined_names(node):
            defs.setdefault(n, []).append(i)
    wanted = list(names)
    missing = [n for n in wanted if n not in defs]
    if missing:
        raise KeyError(f"not defined at module level: {', '.join(missing)}")
    keep: set[int] = set()
    todo = list(wanted)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in defs.get(name, []):
            keep.add(i)
            for sub in ast.walk(tree.body[i]):
                if isinstance(sub, ast.Name) and sub.id in defs and sub.id not in seen:
                    todo.append(sub.id)
    parts = []
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or i in keep:
            parts.append(ast.unparse(node))
    futures = [p for p in parts if p.startswith("from __future__")]
    return "\n\n".join(futures + [p for p in parts if not p.startswith("from __future__")]) + "\n"


def reference_closure(stem: str, names: Iterable[str]) -> str:
    """Judge side: the closure of reference functions `names` of `stem` (read from course/<stem>/reference.py)."""
    from autograder import content

    return closure_source(content.path_of(stem, "reference").read_text(encoding="utf-8"), names)


def _exec(source: str, label: str) -> dict:
    namespace: dict[str, Any] = {"__name__": f"autograder_trusted_{label}", "__builtins__": builtins}
    exec(compile(source, f"<trusted {label}>", "exec"), namespace)
    return namespace


def install_reference(stem: str, names: Iterable[str], source: str) -> None:
    """Runner side: define the shipped reference helpers for the next probe."""
    namespace = _exec(source, f"reference_{stem}")
    for name in names:
        _SUPPLIED[(stem, name)] = namespace[name]


def clear_reference() -> None:
    """Runner side: forget shipped reference helpers once the probe returned."""
    _SUPPLIED.clear()


def load_shipped(source: str, name: str, label: str) -> Any:
    """Runner side: a probe function shipped as source."""
    return _exec(source, label)[name]
