"""course_lib offers no graded answer (issue 16, review-layout.md section 4 and W5; issue 17 item 4).

- Name: no public name of course_lib (the `__all__` of each module) is the name of a graded function.
- Behaviour: no public course_lib callable passes all the hidden tests of a graded function it could stand in
  for, even disguised so that a switch-off that recognises the library object by identity cannot see it.
- Docstrings: every public function and class says "Introduced in <stem>." for an existing notebook stem, and
  it answers none of that notebook's graded functions.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable
from typing import Any

import matplotlib
import pytest
import torch

import course_lib
from autograder import content
from autograder.student import LocalStudent
from autograder.suite import Mutant, check_mutant, load_suite, reference_namespace, run_test

INTRODUCED = re.compile(r"Introduced in (\d\d_[a-z0-9_]+)\b")


def public_objects() -> dict[str, Any]:
    """Every name in the `__all__` of course_lib's modules, keyed "module.name"."""
    found: dict[str, Any] = {}
    for module_name in course_lib.__all__:
        module = getattr(course_lib, module_name)
        if inspect.ismodule(module):
            for name in getattr(module, "__all__", ()):
                found[f"{module_name}.{name}"] = getattr(module, name)
    return found


def public_callables() -> dict[str, Any]:
    """The public functions and classes of course_lib (constants and type aliases left out)."""
    return {key: obj for key, obj in public_objects().items() if inspect.isfunction(obj) or inspect.isclass(obj)}


def returns_a_value(obj: Any) -> bool:
    """False for what cannot stand in for a graded function by its signature alone: functions annotated to return
    None (the checks) and the plots, which draw and return matplotlib's objects (Axes, an array of Axes)."""
    if inspect.isclass(obj):
        return True
    return obj.__module__ != course_lib.plots.__name__ and inspect.signature(obj).return_annotation not in (
        None,
        "None",
    )


def graded_functions() -> dict[tuple[str, str], tuple[str, ...]]:
    """(stem, graded name) -> the hidden tests that use it, for every notebook."""
    graded: dict[tuple[str, str], list[str]] = {}
    for stem in content.stems():
        for test in load_suite(stem).tests:
            for name in test.uses:
                graded.setdefault((stem, name), []).append(test.name)
    return {key: tuple(tests) for key, tests in graded.items()}


def required_positional(obj: Any) -> int | None:
    """How many positional parameters `obj` requires; None when it has no readable signature."""
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)


def can_stand_in(library_obj: Any, graded_obj: Any) -> bool:
    """Whether `library_obj` could be called like `graded_obj`: it returns a value, and it has as many required
    positional parameters, or its signature binds the graded function's required positional arguments."""
    wanted = required_positional(graded_obj)
    if wanted is None or not returns_a_value(library_obj):
        return False
    if required_positional(library_obj) == wanted:
        return True
    try:
        inspect.signature(library_obj).bind(*([None] * wanted))
    except (TypeError, ValueError):
        return False
    return True


def disguised(library_obj: Any) -> Any:
    """`library_obj` behind a new object, as a submission could hide it from an identity check: a function that
    holds the library's in a default argument, or a subclass of the library's class."""
    if inspect.isclass(library_obj):
        try:
            return type(library_obj.__name__, (library_obj,), {"__module__": "__main__"})
        except TypeError:  # a class that cannot be subclassed: offer it as it is
            return library_obj

    def stand_in(*args: Any, _library: Callable[..., Any] = library_obj, **kwargs: Any) -> Any:
        return _library(*args, **kwargs)

    return stand_in


def _passes_all(stem: str, graded_name: str, tests: tuple[str, ...], library_key: str, library_obj: Any) -> bool:
    """Whether the disguised library object passes every hidden test of `graded_name` on the reference namespace.

    The first of those tests runs alone first: most candidates fail it, and then the others need not run.
    Global state the library object may touch (random generators, the current notebook stem, open figures) is
    restored afterwards, so the candidates cannot influence one another.
    """
    import matplotlib.pyplot as plt

    mutant = Mutant(f"{graded_name} replaced by course_lib.{library_key}", tests, {graded_name: disguised(library_obj)})
    first = next(test for test in load_suite(stem).tests if test.name == tests[0])
    stem_before = course_lib.env.current_stem()
    with torch.random.fork_rng(devices=[]):
        try:
            if run_test(first, LocalStudent({**reference_namespace(stem), **mutant.overrides})).state != "passed":
                return False
            results = check_mutant(stem, mutant)
        finally:
            course_lib.env._current_stem = stem_before  # setup_notebook sets it when it is a candidate
            plt.close("all")
    return bool(results) and all(r.state == "passed" for r in results.values())


@pytest.fixture(scope="module")
def answered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[str]]:
    """(stem, graded name) -> the public course_lib callables that pass all of its hidden tests."""
    matplotlib.use("Agg")
    candidates = public_callables()
    found: dict[tuple[str, str], list[str]] = {}
    runs, start = 0, time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_CACHE_DIR", str(tmp_path_factory.mktemp("answers_cache")))
        for (stem, graded_name), tests in graded_functions().items():
            graded_obj = reference_namespace(stem)[graded_name]
            for key, obj in candidates.items():
                if can_stand_in(obj, graded_obj):
                    runs += 1
                    if _passes_all(stem, graded_name, tests, key, obj):
                        found.setdefault((stem, graded_name), []).append(key)
    print(f"\n{runs} (graded function, course_lib callable) pairs checked in {time.perf_counter() - start:.1f} s")
    return found


def test_no_public_name_is_a_graded_name() -> None:
    graded_names = {name for _, name in graded_functions()}
    clashes = sorted(key for key in public_objects() if key.split(".", 1)[1] in graded_names)
    assert not clashes, (
        f"course_lib exports graded function names: {clashes}. Rename or drop them: a student "
        f"could import the library's version under the exercise's name."
    )


def undeclared_public_callables() -> list[str]:
    """Functions and classes of a course_lib module without `__all__` (the checks here would not see them)."""
    missing = []
    for module_name in course_lib.__all__:
        module = getattr(course_lib, module_name)
        if inspect.ismodule(module) and not hasattr(module, "__all__"):
            missing += [
                f"{module_name}.{name}"
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and (inspect.isfunction(obj) or inspect.isclass(obj))
                and obj.__module__ == module.__name__
            ]
    return missing


@pytest.mark.slow  # about 460 pairs, 70-80 s on two shared CPU cores
def test_no_public_callable_passes_a_graded_functions_tests(answered: dict[tuple[str, str], list[str]]) -> None:
    # The check can fail: the reference answer itself, disguised like a library function, passes its tests.
    reference = reference_namespace("03_early_exit")
    tests = graded_functions()[("03_early_exit", "expected_cost")]
    assert can_stand_in(reference["expected_cost"], reference["expected_cost"])
    assert _passes_all("03_early_exit", "expected_cost", tests, "reference.expected_cost", reference["expected_cost"])
    assert not answered, (
        "course_lib callables pass every hidden test of a graded function: "
        + "; ".join(f"{stem} {name} <- {', '.join(keys)}" for (stem, name), keys in answered.items())
        + ". Narrow or move the library code so that its contract is not the exercise's answer."
    )


def test_docstrings_name_the_notebook_that_introduced_each_object() -> None:
    """Each names an existing stem and is not one of that stem's graded names; that it answers none of that stem's
    graded functions by behaviour is part of the (slow) behaviour test above, which allows no answer anywhere."""
    stems = set(content.stems())
    graded = graded_functions()
    problems = [f"{key}: public but outside any __all__" for key in undeclared_public_callables()]
    for key, obj in public_callables().items():
        match = INTRODUCED.search(inspect.getdoc(obj) or "")
        if match is None:
            problems.append(f"{key}: no 'Introduced in <stem>.' in its docstring")
            continue
        stem = match.group(1)
        if stem not in stems:
            problems.append(f"{key}: names {stem}, which is not a notebook stem ({sorted(stems)})")
            continue
        if key.split(".", 1)[1] in {name for s, name in graded if s == stem}:
            problems.append(f"{key}: introduced in {stem}, whose graded function has the same name")
    assert not problems, "\n".join(problems)
