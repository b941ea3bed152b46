"""Mutation checks: every hidden test must fail on a known-wrong implementation of its pitfall."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from autograder.framework import LocalStudent, Result, load_suite, run_suite

__all__ = ["Mutant", "load_stem_module", "reference_namespace", "check_reference", "check_mutant"]

ROOT = Path(__file__).resolve().parent


@dataclass
class Mutant:
    """A known-wrong variant: `overrides` replace names of the reference namespace."""

    description: str
    targets: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)


def load_stem_module(kind: str, stem: str) -> ModuleType:
    """Import autograder/<kind>/<stem>.py (kind: reference, mutants or probes) by path."""
    path = ROOT / kind / f"{stem}.py"
    name = f"autograder.{kind}._nb_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    if not path.exists():
        raise FileNotFoundError(f"missing {path}")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def reference_namespace(stem: str) -> dict[str, Any]:
    """A fresh namespace holding the reference implementations of `stem`'s graded functions."""
    return dict(vars(load_stem_module("reference", stem)))


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
