"""Every hidden test passes on the reference and fails on each known-wrong implementation aimed at it."""

from __future__ import annotations

import pytest

from autograder import content
from autograder.suite import check_mutant, check_reference, load_suite

STEMS = content.stems()


def _mutants(stem: str) -> list:
    """The stem's mutants; [] when its module is missing (then the coverage test below fails for it)."""
    if not content.has(stem, "mutants"):
        return []
    return list(content.load(stem, "mutants").MUTANTS)


@pytest.mark.parametrize("stem", STEMS)
def test_reference_passes_every_hidden_test(stem: str) -> None:
    results = check_reference(stem)
    assert results, f"{stem} has no hidden tests"
    bad = [f"{r.test}: {r.state} {r.message}" for r in results if r.state != "passed"]
    assert not bad, "reference fails: " + "; ".join(bad)


@pytest.mark.parametrize("stem", STEMS)
def test_every_hidden_test_has_a_mutant(stem: str) -> None:
    covered = {t for m in _mutants(stem) for t in m.targets}
    names = {t.name for t in load_suite(stem).tests}
    assert names - covered == set(), f"hidden tests without a mutant: {sorted(names - covered)}"


CASES = [(stem, i) for stem in STEMS for i in range(len(_mutants(stem)))]


@pytest.mark.parametrize("stem,index", CASES, ids=[f"{s}-{_mutants(s)[i].description}" for s, i in CASES])
def test_mutant_is_caught(stem: str, index: int) -> None:
    mutant = _mutants(stem)[index]
    results = check_mutant(stem, mutant)
    passed = [name for name, r in results.items() if r.state == "passed"]
    assert not passed, f"mutant {mutant.description!r} passed {passed}"
