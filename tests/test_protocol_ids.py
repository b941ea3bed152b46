"""Request ids on the judge <-> runner pipes, and no student text for tests that shipped reference code
(issue 17, classes 7 and 5).

The judge end (`RunnerProcess.request`) is driven against a fake runner end on plain pipes; the runner
end (`runner.serve`) runs in a thread with ops that need no signals. No sandbox, no real runner process.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder import content
from autograder import suite as fw
from autograder.grader import judge, runner
from autograder.grader.protocol import pack_reply, read_frame, unpack_reply, write_frame
from autograder.student import sanitize_bytes


class _Proc:
    """Stands in for the runner's Popen: always alive."""

    pid = 0

    def poll(self) -> None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        return 0


class _Output:
    total = 0
    truncated = False

    def text(self, n: int = 1500) -> str:
        return ""

    def close(self) -> None:
        pass


def _frame(header: dict, payload: bytes = b"") -> bytes:
    body = pack_reply(header, payload)
    return struct.pack(">Q", len(body)) + body


class FakeRunnerEnd:
    """The judge's RunnerProcess wired to pipes whose other end `answer(request) -> bytes` serves."""

    def __init__(self, answer: Callable[[dict], bytes], tmp: Path) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        self.fds = [req_r, rep_w]
        self.requests: list[dict] = []
        self.process = judge.RunnerProcess(_Proc(), req_w, rep_r, tmp, _Output())  # type: ignore[arg-type]

        def serve() -> None:
            try:
                while True:
                    request = pickle.loads(read_frame(req_r))
                    self.requests.append(request)
                    os.write(rep_w, answer(request))
            except (EOFError, OSError):
                pass

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        os.close(self.process.to_runner)  # EOF for the serving thread; join it before fd numbers are reused
        self.thread.join(5)
        for fd in (self.process.from_runner, *self.fds):
            try:
                os.close(fd)
            except OSError:
                pass


def _ok(value: Any, request_id: object = None) -> bytes:
    header: dict = {"kind": "ok"}
    if request_id is not None:
        header["id"] = request_id
    return _frame(header, sanitize_bytes(value))


def _value(reply: tuple[dict, bytes]) -> Any:
    return judge.RemoteStudent._decode(reply[0], reply[1], "`f`")


def test_matching_reply_is_taken(tmp_path: Path) -> None:
    end = FakeRunnerEnd(lambda req: _ok(7, req["id"]), tmp_path)
    try:
        assert _value(end.process.request({"op": "call", "name": "f"}, time.monotonic() + 5)) == 7
        assert end.process.stray_frames == 0
    finally:
        end.close()


def test_ids_are_fresh_and_unpredictable(tmp_path: Path) -> None:
    end = FakeRunnerEnd(lambda req: _ok(1, req["id"]), tmp_path)
    try:
        for _ in range(3):
            end.process.request({"op": "has", "name": "f"}, time.monotonic() + 5)
        ids = [r["id"] for r in end.requests]
        assert len(set(ids)) == 3, ids
        assert all(isinstance(i, str) and len(i) == 32 and int(i, 16) >= 0 for i in ids), ids
    finally:
        end.close()


def test_forged_and_stale_frames_are_dropped_and_counted(tmp_path: Path) -> None:
    # before the real reply: a frame with no id, one with an older request's id, one with a made-up id
    end = FakeRunnerEnd(
        lambda req: _ok(666) + _ok(666, "0" * 32) + _ok(666, req["id"][::-1]) + _ok(1, req["id"]), tmp_path
    )
    try:
        assert _value(end.process.request({"op": "call", "name": "f"}, time.monotonic() + 5)) == 1
        assert end.process.stray_frames == 3
    finally:
        end.close()


def test_a_forged_frame_is_never_read_as_the_next_reply(tmp_path: Path) -> None:
    """The old attack: the first reply drags a forged passing answer along for the next request."""

    def answer(req: dict) -> bytes:
        if req["name"] == "add":
            stale = req["id"]  # all the student's code can know: the id of the request it is serving
            return _ok(2, req["id"]) + _ok(99, stale) + _ok(99)
        return _frame({"kind": "not_attempted", "message": "`scale` still raises NotImplementedError", "id": req["id"]})

    end = FakeRunnerEnd(answer, tmp_path)
    try:
        assert _value(end.process.request({"op": "call", "name": "add"}, time.monotonic() + 5)) == 2
        with pytest.raises(fw.NotAttempted):
            _value(end.process.request({"op": "call", "name": "scale"}, time.monotonic() + 5))
        assert end.process.stray_frames == 2
    finally:
        end.close()


def test_a_reply_with_the_wrong_id_is_never_credited(tmp_path: Path) -> None:
    end = FakeRunnerEnd(lambda req: _ok(1, "f" * 32), tmp_path)
    try:
        with pytest.raises(judge.RunnerTimeout):
            end.process.request({"op": "call", "name": "f"}, time.monotonic() + 1.0)
        assert end.process.stray_frames == 1
    finally:
        end.close()


def test_a_malformed_stray_frame_is_still_a_protocol_error(tmp_path: Path) -> None:
    end = FakeRunnerEnd(lambda req: struct.pack(">Q", 5) + b"\x00\x00\x00\x09x", tmp_path)
    try:
        with pytest.raises(judge.RunnerDied, match="malformed"):
            end.process.request({"op": "call", "name": "f"}, time.monotonic() + 5)
    finally:
        end.close()


def test_session_notes_stray_frames_once(tmp_path: Path) -> None:
    session = judge.Session([], judge.GradeOptions(), time.monotonic() + 60)
    try:
        assert session.stray_note() == ""
        session.stray_frames = 3
        note = session.stray_note()
        assert "3 frame(s)" in note and "answered no request" in note
    finally:
        session.close()


# ---------------------------------------------------------------------------------------------
# The runner end: serve() in a thread (ops `has`, `call` and `probe` need no signals)


class RunnerEnd:
    def __init__(self, namespace: dict) -> None:
        req_r, self.to_runner = os.pipe()
        self.from_runner, rep_w = os.pipe()
        self.fds = [req_r, rep_w, self.to_runner, self.from_runner]
        self.namespace = namespace
        real = runner.Executor.__init__

        def init(executor: runner.Executor, use_ipython: bool) -> None:
            real(executor, False)
            executor.namespace.update(namespace)

        self._patch = pytest.MonkeyPatch()
        self._patch.setattr(runner.Executor, "__init__", init)
        self.thread = threading.Thread(target=self._serve, args=(req_r, rep_w), daemon=True)
        self.thread.start()

    def _serve(self, req_r: int, rep_w: int) -> None:
        try:
            runner.serve(req_r, rep_w)
        except (EOFError, OSError):
            pass

    def send(self, message: dict) -> tuple[dict, bytes]:
        write_frame(self.to_runner, pickle.dumps(message))
        return unpack_reply(read_frame(self.from_runner, time.monotonic() + 30))

    def close(self) -> None:
        try:
            write_frame(self.to_runner, pickle.dumps({"op": "quit"}))
        except OSError:
            pass
        self.thread.join(5)
        self._patch.undo()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass


def test_runner_echoes_every_id_and_names_the_error_type() -> None:
    def boom() -> None:
        raise ValueError("copied text")

    end = RunnerEnd({"f": lambda: 3, "boom": boom})
    try:
        hello, _ = end.send({"use_ipython": False, "id": "hello-id"})
        assert hello["kind"] == "hello" and hello["id"] == "hello-id"
        header, _ = end.send({"op": "has", "name": "f", "id": "a1"})
        assert header == {"kind": "has", "value": True, "id": "a1"}
        header, payload = end.send({"op": "call", "name": "f", "args": (), "kwargs": {}, "id": "a2"})
        assert header["id"] == "a2" and _value((header, payload)) == 3
        header, _ = end.send({"op": "call", "name": "boom", "args": (), "kwargs": {}, "id": "a3"})
        assert header["id"] == "a3" and header["kind"] == "student_error" and header["error_type"] == "ValueError"
        header, _ = end.send({"op": "has", "name": "f"})  # no id: the reply says so (None), it invents none
        assert header["id"] is None
    finally:
        end.close()


PEEK = '''import sys


def peek(namespace):
    """Count the dicts on the runner's stack that still hold shipped source."""
    hits = 0
    f = sys._getframe()
    while f is not None:
        for value in list(f.f_locals.values()):
            if isinstance(value, dict) and (
                "source" in value or (isinstance(value.get("reference"), dict) and "source" in value["reference"])
            ):
                hits += 1
        f = f.f_back
    return hits
'''


def test_runner_drops_shipped_source_before_the_probe_runs() -> None:
    end = RunnerEnd({})
    try:
        end.send({"use_ipython": False, "id": "h"})
        message = {
            "op": "probe",
            "module": "peek_module",
            "qualname": "peek",
            "args": (),
            "kwargs": {},
            "source": PEEK,
            "reference": {"stem": "03_early_exit", "names": ["helper"], "source": "def helper():\n    return 1\n"},
            "id": "p1",
        }
        header, payload = end.send(message)
        assert header["id"] == "p1" and header["kind"] == "ok", header
        assert _value((header, payload)) == 0
    finally:
        end.close()


# ---------------------------------------------------------------------------------------------
# Withheld text (class 5)

SOURCE = "def entropy(logits):\n    return -(p * logp).sum(-1)"


@pytest.mark.parametrize(
    ("kind", "error_type", "exc", "expected"),
    [
        (
            "student_error",
            "ValueError",
            fw.StudentError,
            "the student's code raised ValueError (its message is withheld",
        ),
        ("student_error", "Bad Name: " + SOURCE, fw.StudentError, "the student's code failed (its message is withheld"),
        ("student_error", "X" * 41, fw.StudentError, "the student's code failed (its message"),
        ("test_failure", "TestFailure", fw.TestFailure, "a check that ran in the student's process failed"),
        ("missing", "Missing", fw.Missing, "is not defined in the submission (its message is withheld"),
        ("not_attempted", "NotImplementedError", fw.NotAttempted, "still raises NotImplementedError"),
        ("cell", None, fw.StudentError, "unexpected reply"),
    ],
)
def test_error_text_is_withheld(kind: str, error_type: str | None, exc: type, expected: str) -> None:
    header = {"kind": kind, "message": SOURCE, "error_type": error_type, "id": "x"}
    with pytest.raises(exc) as info:
        judge.RemoteStudent._decode(header, b"", "the student's code", withhold=judge.WITHHELD)
    text = str(info.value)
    assert expected in text and "entropy" not in text and "logp" not in text, text
    with pytest.raises(exc) as info:  # without reference code in the process the message is kept
        judge.RemoteStudent._decode(header, b"", "the student's code", withhold="")
    if kind != "cell":
        assert str(info.value) == SOURCE


def test_expect_raises_still_reads_a_withheld_error_class() -> None:
    header = {"kind": "student_error", "message": SOURCE, "error_type": "ValueError"}

    class OneReply:
        def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
            return judge.RemoteStudent._decode(header, b"", f"`{name}`", withhold=judge.WITHHELD)

    fw.expect_raises(OneReply(), "expected_cost", error="ValueError")  # type: ignore[arg-type]
    with pytest.raises(fw.TestFailure, match="it raised ValueError"):
        fw.expect_raises(OneReply(), "expected_cost", error="TypeError")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        SOURCE,
        {"preds": torch.zeros(2), SOURCE: 1},
        ["ok", ["deep", (SOURCE,)]],
        ["a" * 81],  # a name, but too long
        {"preds": "torch.log_softmax(x)"},  # brackets
        [b"def entropy"],  # bytes: sanitize_bytes never makes them, a forged payload can
    ],
)
def test_returned_text_is_refused(value: Any) -> None:
    buffer = io.BytesIO()
    torch.save(value, buffer)  # what a forged payload may hold (load_sanitized loads it)
    payload = buffer.getvalue()
    with pytest.raises(fw.StudentError, match="withheld") as info:
        judge.RemoteStudent._decode({"kind": "ok"}, payload, "the student's code", withhold=judge.WITHHELD)
    assert "entropy" not in str(info.value)
    assert judge.RemoteStudent._decode({"kind": "ok"}, payload, "x", withhold="") is not None


def test_plain_values_pass_when_withheld() -> None:
    value = {"preds": torch.arange(3), "exit_index": [0, 1], "any_train_mode": False, "name": "no error"}
    value["state"] = {f"stages.{k}.weight": torch.zeros(1) for k in range(40)}  # a state dict: dotted keys
    out = judge.RemoteStudent._decode({"kind": "ok"}, sanitize_bytes(value), "x", withhold=judge.WITHHELD)
    assert out["name"] == "no error" and out["exit_index"] == [0, 1] and len(out["state"]) == 40


def test_quoted_names_are_scrubbed_from_the_message() -> None:
    """Names may come back while withholding (error class names, state dict keys), but never quoted."""
    session = _FakeSession({"kind": "ok"})
    student = judge.RemoteStudent(session)  # type: ignore[arg-type]
    student.shipped_reference = True
    tokens = "if not isinstance logits torch Tensor or not torch is_floating_point logits"
    session.reply = {"kind": "ok"}
    session.request = lambda message, deadline: ({"kind": "ok"}, sanitize_bytes({"name": tokens}))  # type: ignore[method-assign]
    got = student.call("error_name")
    assert got == {"name": tokens}
    result = fw.Result("t", "g", "failed", 0.0, 1.0, f"error_name: got {got['name']!r}")
    scrubbed = student.scrub(result)
    assert tokens not in scrubbed.message and "<withheld>" in scrubbed.message and "withheld" in scrubbed.message
    assert student.scrub(fw.Result("t", "g", "failed", 0.0, 1.0, "wrong shape")).message == "wrong shape"
    assert student.scrub(dataclasses.replace(result, state="passed")) == dataclasses.replace(result, state="passed")
    assert student.scrub(result, test_text=f"x = {{'name': {tokens!r}}}") == result  # the test's own text is no leak


class _FakeSession:
    """Answers every request with `reply`; records what was sent."""

    def __init__(self, reply: dict) -> None:
        self.reply = reply
        self.sent: list[dict] = []
        self.withhold_output = False

    def request(self, message: dict, deadline: float) -> tuple[dict, bytes]:
        self.sent.append(message)
        return self.reply, b""


def test_text_stays_withheld_after_reference_code_was_shipped() -> None:
    """A later plain call could raise text the student's code stashed during the probe."""
    reply = {
        "kind": "student_error",
        "message": f"`fit_temperature` raised ValueError: {SOURCE}",
        "error_type": "ValueError",
    }
    session = _FakeSession(reply)
    student = judge.RemoteStudent(session)  # type: ignore[arg-type]
    with pytest.raises(fw.StudentError, match="fit_temperature") as info:
        student.call("fit_temperature")
    assert "logp" in str(info.value)  # nothing shipped yet: the message is the student's own
    probes = content.load("03_early_exit", "probes")
    student.uses = ("threshold_sweep",)
    with pytest.raises(fw.StudentError) as info:
        student.probe(probes.call_isolated, "threshold_sweep", ("entropy",))
    assert "reference" in session.sent[-1] and "def entropy" in session.sent[-1]["reference"]["source"]
    assert "logp" not in str(info.value) and "withheld" in str(info.value)
    assert session.withhold_output
    with pytest.raises(fw.StudentError) as info:
        student.call("fit_temperature")
    assert str(info.value) == f"`fit_temperature` raised ValueError ({judge.WITHHELD_LATER})"


def test_frame_helper_matches_the_protocol() -> None:
    body = _frame({"kind": "ok", "id": "z"})[8:]
    assert unpack_reply(body)[0] == {"kind": "ok", "id": "z"}
    assert json.loads(body[4:].decode())["id"] == "z"


@pytest.mark.parametrize("withhold", [False, True])
def test_a_restarted_runner_reports_nothing_once_reference_code_was_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, withhold: bool
) -> None:
    """A restarted runner's hello (device, python) could quote what the student's code stashed in its work folder."""
    end = FakeRunnerEnd(
        lambda req: _frame({"kind": "hello", "device": "def entropy(logits)", "id": req["id"]}), tmp_path
    )
    monkeypatch.setattr(judge, "launch_runner", lambda workdir, options: end.process)
    session = judge.Session([], judge.GradeOptions(), time.monotonic() + 60)
    try:
        session.withhold_output = withhold
        assert session.start()
        assert session.device == ("" if withhold else "def entropy(logits)")
    finally:
        session.runner = None  # the fake runner has no process to kill
        session.close()
        end.close()
