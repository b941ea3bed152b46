"""The one loader of per-notebook grading content: autograder/course/<stem>/<kind>.py.

Stems start with a digit (`03_early_exit`), so their folders cannot be imported by name; this module
is the only place in the repository that imports a file by path. Each folder holds

  tests.py      SUITE, the hidden tests (grading engine: autograder.suite)
  reference.py  the reference implementations, generated from the solution cells by `release`
  helpers.py    hand-written trusted helpers the tests need beyond the graded functions (optional)
  mutants.py    MUTANTS, known-wrong variants every hidden test must catch
  probes.py     trusted functions run where the student's code lives (optional)
  hints.py      HINTS, progressive hints for the self-check (optional)

The sandbox masks the whole course/ folder from the student's process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import threading
from pathlib import Path
from types import ModuleType

__all__ = ["COURSE_DIR", "KINDS", "STEM_PATTERN", "stems", "stem_dir", "path_of", "has", "load", "load_file"]

COURSE_DIR = Path(__file__).resolve().parent / "course"
KINDS = ("tests", "reference", "helpers", "mutants", "probes", "hints")
STEM_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+$")
_lock = threading.RLock()


def stems() -> list[str]:
    """Every notebook stem with a grading folder (sorted)."""
    return sorted(
        p.name for p in COURSE_DIR.iterdir() if p.is_dir() and STEM_PATTERN.match(p.name) and (p / "tests.py").exists()
    )


def stem_dir(stem: str) -> Path:
    """autograder/course/<stem>/ (whether or not it exists)."""
    return COURSE_DIR / stem


def path_of(stem: str, kind: str) -> Path:
    """The file of one kind of content for one stem."""
    if kind not in KINDS:
        raise ValueError(f"unknown content kind {kind!r}; expected one of {', '.join(KINDS)}")
    return stem_dir(stem) / f"{kind}.py"


def has(stem: str, kind: str) -> bool:
    return path_of(stem, kind).exists()


def load(stem: str, kind: str) -> ModuleType:
    """Import autograder/course/<stem>/<kind>.py once (as autograder.course.<stem>.<kind>)."""
    path = path_of(stem, kind)
    if not path.exists():
        raise FileNotFoundError(f"notebook {stem!r} has no {kind} module (expected {path})")
    return load_file(path, f"autograder.course.{stem}.{kind}")


def load_file(path: Path, name: str | None = None) -> ModuleType:
    """Import a Python file by path under `name` (default: derived from the path); thread-safe, once per name."""
    path = Path(path).resolve()
    if name is None:
        name = f"autograder_content_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}.{path.stem}"
    with _lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
