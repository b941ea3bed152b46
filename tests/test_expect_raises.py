"""expect_raises (hidden tests) and raised_error_name (probes): the one way to grade "must raise ValueError"."""

from __future__ import annotations

from typing import Any

import pytest

from autograder.grader.judge import RemoteStudent
from autograder.grader.protocol import unpack_reply
from autograder.grader.runner import _error_reply, _result_reply
from autograder.student import (
    LocalStudent,
    Missing,
    NotAttempted,
    Student,
    call_in_namespace,
    raised_error_name,
)
from autograder.student import TestFailure as Failure  # a Test* name would be collected by pytest
from autograder.suite import expect_raises


class ShapeError(ValueError):
    """A student's own subclass: graded by its class name, like every other error."""


def _validating(x: int) -> int:
    if x < 0:
        raise ValueError(f"x must be >= 0, got {x}")
    return x


def _wrong_error(x: int) -> int:
    raise TypeError("not what the notebook asked for")


def _silent_error(x: int) -> int:
    raise ValueError  # no message: "`f` raised ValueError (in _silent_error, line N)"


def _own_subclass(x: int) -> int:
    raise ShapeError("bad shape")


def _accepts_anything(x: int) -> int:
    return x


def _stub(x: int) -> int:
    raise NotImplementedError()


def _exits(x: int) -> int:
    raise SystemExit(3)


NAMESPACE = {
    "validating": _validating,
    "wrong_error": _wrong_error,
    "silent_error": _silent_error,
    "own_subclass": _own_subclass,
    "accepts_anything": _accepts_anything,
    "stub": _stub,
    "exits": _exits,
}


class WireStudent(Student):
    """The grader's RemoteStudent decoding exactly the replies the runner sends (runner._error_reply)."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def has(self, name: str) -> bool:
        return callable(self.namespace.get(name))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            value = call_in_namespace(self.namespace, name, args, kwargs)
        except BaseException as err:  # noqa: BLE001 - the runner answers every exception with a reply
            reply = _error_reply(err)
        else:
            reply = _result_reply(value, f"`{name}`")
        header, payload = unpack_reply(reply)
        return RemoteStudent._decode(header, payload, f"`{name}`")

    def probe(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("not needed here")


@pytest.fixture(params=["local", "remote"])
def student(request: pytest.FixtureRequest) -> Student:
    return LocalStudent(dict(NAMESPACE)) if request.param == "local" else WireStudent(dict(NAMESPACE))


def test_the_expected_error_passes(student: Student) -> None:
    expect_raises(student, "validating", -1, what="x is -1")
    expect_raises(student, "silent_error", 0, what="any x")
    expect_raises(student, "wrong_error", 0, error="TypeError")
    expect_raises(student, "own_subclass", 0, error="ShapeError")


def test_another_error_fails_and_names_both(student: Student) -> None:
    with pytest.raises(Failure) as info:
        expect_raises(student, "wrong_error", 1, what="x is 1")
    assert str(info.value) == "`wrong_error` should raise ValueError when x is 1; it raised TypeError"


def test_a_subclass_is_not_the_class_asked_for(student: Student) -> None:
    with pytest.raises(Failure, match="should raise ValueError; it raised ShapeError"):
        expect_raises(student, "own_subclass", 1)


def test_returning_fails_and_says_on_which_input(student: Student) -> None:
    with pytest.raises(Failure) as info:
        expect_raises(student, "accepts_anything", -5, what="x is -5")
    assert str(info.value) == "`accepts_anything` should raise ValueError when x is -5; it returned a value"


def test_any_error_when_error_is_none(student: Student) -> None:
    expect_raises(student, "wrong_error", 0, error=None)
    with pytest.raises(Failure, match="`accepts_anything` should raise an error when x is 2; it returned a value"):
        expect_raises(student, "accepts_anything", 2, error=None, what="x is 2")


def test_an_error_without_a_class_is_reported_as_it_came(student: Student) -> None:
    with pytest.raises(Failure, match=r"should raise ValueError; it failed another way \(`exits` tried to stop"):
        expect_raises(student, "exits", 0)


def test_stub_and_missing_function_are_not_failures(student: Student) -> None:
    with pytest.raises(NotAttempted):
        expect_raises(student, "stub", 0)
    with pytest.raises(Missing):
        expect_raises(student, "deleted", 0)


def test_raised_error_name_for_probes() -> None:
    assert raised_error_name(_validating, -1) == "ValueError"
    assert raised_error_name(_own_subclass, 0) == "ShapeError"
    assert raised_error_name(_accepts_anything, 0) == "no error"
    assert raised_error_name(lambda **kw: kw["missing"]) == "KeyError"
    with pytest.raises(NotImplementedError):
        raised_error_name(_stub, 0)
