"""`cl.checks.exercise`: the frame of a visible check (passed line, friendly "not done yet", other errors untouched)."""

from __future__ import annotations

import pytest

import course_lib as cl


def entropy(x):  # a stub, as the release writes it
    raise NotImplementedError()


def threshold_sweep(x):  # a finished exercise that builds on an unfinished one
    return entropy(x)


def library_call():
    raise NotImplementedError("this backend has no such kernel")


def test_success_prints_the_passed_line_and_the_self_check_pointer(capsys) -> None:
    with cl.checks.exercise(2, "threshold_sweep"):
        pass
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[threshold_sweep] public checks passed; hidden tests run at grading."
    assert 'check("threshold_sweep")' in out[1]
    assert all(len(line) <= 100 for line in out)


def test_own_stub_says_which_exercise_and_function() -> None:
    with pytest.raises(cl.checks.ExerciseNotDone) as err, cl.checks.exercise(1, "entropy"):
        entropy(0)
    assert str(err.value).startswith("exercise 1 is not done yet:")
    assert "replace `raise NotImplementedError()` in entropy" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert isinstance(err.value, NotImplementedError)  # code that catches the stub's error still does


def test_a_stub_reached_through_another_function_is_named() -> None:
    with pytest.raises(cl.checks.ExerciseNotDone) as err, cl.checks.exercise(5, "threshold_sweep"):
        threshold_sweep(0)
    message = str(err.value)
    assert "exercise 5's check stopped in entropy" in message and "threshold_sweep calls it" in message


def test_other_errors_pass_through_unchanged(capsys) -> None:
    with pytest.raises(NotImplementedError, match="no such kernel") as err, cl.checks.exercise(3, "x"):
        library_call()  # a NotImplementedError with a message is not a stub: shown as it is
    assert type(err.value) is NotImplementedError
    with pytest.raises(AssertionError, match="differs"), cl.checks.exercise(3, "x"):
        raise AssertionError("value differs")
    assert "public checks passed" not in capsys.readouterr().out


@pytest.mark.parametrize("number, function", [(0, "f"), (True, "f"), (1, "not a name"), (1.0, "f")])
def test_bad_arguments_are_refused(number, function) -> None:
    with pytest.raises(ValueError):
        cl.checks.exercise(number, function)


class ExitHead:  # a class exercise: its stub raises in __init__
    def __init__(self, width: int) -> None:
        raise NotImplementedError()


def test_a_class_exercise_stub_is_recognised() -> None:
    with (
        pytest.raises(cl.checks.ExerciseNotDone, match="exercise 1 is not done yet") as err,
        cl.checks.exercise(1, "ExitHead"),
    ):
        ExitHead(8)
    assert "in ExitHead" in str(err.value)
