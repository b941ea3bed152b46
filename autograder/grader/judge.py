"""The judge: runs one submission's notebook in a runner process and the hidden tests against it.

Hidden tests run here, in the trusted grader process. Student code only ever runs in the runner; what
comes back is plain data loaded with torch's weights_only loader, so spoofed objects and monkeypatched
torch/numpy/check helpers in the student's process cannot influence a check.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import student as student_api
from autograder import suite as fw
from autograder.grader import notebook as nbmod
from autograder.grader import sandbox as sbx
from autograder.grader import trusted
from autograder.grader.protocol import (
    ChannelClosed,
    ChannelTimeout,
    ProtocolError,
    new_request_id,
    read_frame,
    unpack_reply,
    write_frame,
)
from autograder.grader.records import GradeRecord
from autograder.student import Student
from autograder.suite import HiddenTest, Result, Suite

__all__ = [
    "GradeOptions",
    "RunnerDied",
    "RunnerTimeout",
    "RunnerProcess",
    "RemoteStudent",
    "Session",
    "launch_runner",
    "runner_env",
    "grade_notebook_bytes",
]

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class RunnerDied(BaseException):
    """The runner process exited or broke the protocol (BaseException: framework.run_test lets it through)."""


class RunnerTimeout(BaseException):
    """The runner did not answer before the deadline."""


@dataclass
class GradeOptions:
    """Limits and choices for grading one notebook."""

    test_timeout: float = 60.0
    cell_timeout: float = 300.0
    notebook_timeout: float = 1800.0
    cells: str = "definitions"
    use_ipython: bool = True
    python: str = sys.executable
    max_restarts: int = 6
    startup_timeout: float = 180.0
    threads: int | None = None
    runner_prefix: tuple[str, ...] = ()
    sandbox: sbx.SandboxConfig = field(default_factory=sbx.SandboxConfig)

    def isolation(self) -> tuple[str, str]:
        """('bubblewrap' | 'process', note) for this run's runners (bwrap is probed once per process)."""
        return sbx.choose_isolation(self.sandbox.mode)

    def cpu_seconds(self) -> int:
        if self.sandbox.cpu_seconds is not None:
            return int(self.sandbox.cpu_seconds)
        return int(self.notebook_timeout * max(1, self.threads or os.cpu_count() or 1) + 60)


def runner_env(workdir: Path, threads: int | None = None) -> dict[str, str]:
    """Environment of a runner: small run size unless set, Agg, no tqdm, shared checkpoint cache."""
    env = dict(os.environ)
    env.setdefault("COURSE_SIZE", "small")
    env.pop("COURSE_TRAIN_CAP", None)  # hidden tests train their small models in full, whatever the smoke cap
    env.pop("COURSE_FIT_LOG", None)  # and write no time log outside their work folder
    env["MPLBACKEND"] = "Agg"
    env["TQDM_DISABLE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["HOME"] = env.get("HOME", str(workdir))
    if "COURSE_CACHE_DIR" in os.environ:
        env["COURSE_CACHE_DIR"] = os.environ["COURSE_CACHE_DIR"]
    if threads is not None and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(threads)
        env["MKL_NUM_THREADS"] = str(threads)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(PACKAGE_ROOT) + (os.pathsep + path if path else "")
    return env


class RunnerProcess:
    """A started runner and the two private pipe ends the judge keeps."""

    def __init__(
        self,
        proc: subprocess.Popen,
        to_runner: int,
        from_runner: int,
        workdir: Path,
        output: sbx.BoundedOutput,
        marker: str = "",
        isolation: str = "process",
    ) -> None:
        self.proc = proc
        self.to_runner = to_runner
        self.from_runner = from_runner
        self.workdir = workdir
        self.output = output
        self.marker = marker
        self.isolation = isolation
        self.hello: dict = {}
        self.stray_frames = 0  # frames that answered no request (forged, stale, or without an id): dropped

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, message: dict, deadline: float) -> tuple[dict, bytes]:
        """Send a request, wait for the reply until `deadline` (monotonic); raise RunnerDied/RunnerTimeout.

        The request carries a fresh id and only the reply echoing it is taken: every other frame (written
        by the student's code into the reply pipe, or a stale reply to a request that timed out) is
        dropped and counted in `stray_frames` (protocol.py says why a student cannot forge a later reply).
        """
        request_id = new_request_id()
        try:
            write_frame(self.to_runner, pickle.dumps({**message, "id": request_id}, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, OSError) as err:
            raise RunnerDied(f"could not reach the runner ({type(err).__name__})") from None
        try:
            while True:
                header, payload = unpack_reply(read_frame(self.from_runner, deadline, self.alive))
                if header.get("id") == request_id:
                    return header, payload
                self.stray_frames += 1
        except ChannelTimeout:
            raise RunnerTimeout("no answer before the deadline") from None
        except (ChannelClosed, OSError):
            raise RunnerDied(self.death_reason()) from None
        except ProtocolError as err:
            raise RunnerDied(f"the runner sent a malformed reply ({err})") from None

    def death_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the runner closed its pipe"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            extra = " (out of memory?)" if name == "SIGKILL" else ""
            return f"the student's process was killed by {name}{extra}"
        return f"the student's process exited with status {code} (os._exit, sys.exit or a crash)"

    def log_tail(self, n: int = 1500) -> str:
        """The last `n` characters of the runner's kept output (stdout and stderr, bounded)."""
        return self.output.text(n)

    def kill(self) -> None:
        """Kill the runner and everything it started (process group, descendants, marked processes)."""
        if getattr(self, "_killed", False):
            return
        self._killed = True
        sbx.kill_tree(self.proc.pid, self.marker or None)
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.marker:
            sbx.kill_tree(self.proc.pid, self.marker)  # anything that slipped out while we waited
        for fd in (self.to_runner, self.from_runner):
            try:
                os.close(fd)
            except OSError:
                pass
        self.output.close()

    def stop(self) -> None:
        """Ask politely, then kill."""
        try:
            write_frame(self.to_runner, pickle.dumps({"op": "quit"}))
            self.proc.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


def launch_runner(workdir: Path, options: GradeOptions) -> RunnerProcess:
    """Start one runner process, sandboxed (autograder/grader/sandbox.py).

    The runner gets a fresh interpreter, its own session (process group), cwd = `workdir`, stdin
    closed, stdout/stderr into a pipe the judge drains with a bound, two private pipes passed by fd
    number, an allow-listed environment with a marker, and (limits env var) the rlimits it applies to
    itself before any student code. With bubblewrap it runs in the namespaces described in sandbox.py.
    """
    isolation, _ = options.isolation()
    cfg = options.sandbox
    privileged = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    drop = cfg.uid if (isolation == "bubblewrap" and privileged) else None
    if drop is not None:
        os.chown(workdir, drop, drop)
    marker = sbx.new_marker()
    env = sbx.runner_environment(runner_env(workdir, options.threads), workdir, marker)
    env[sbx.LIMITS_ENV] = json.dumps(
        {
            "memory_bytes": cfg.memory_bytes,
            "memory_kind": cfg.memory_kind,
            "cpu_seconds": options.cpu_seconds(),
            "nproc": cfg.nproc,
            "file_bytes": cfg.file_bytes,
            "drop_to_uid": drop,
        }
    )
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    out_r, out_w = os.pipe()
    # -P: the work folder (cwd) is not put on sys.path, so a module the student's code wrote there (json.py)
    # cannot shadow one the runner imports before it applies its limits and drops privileges after a restart;
    # -s: no user site folder ($HOME is the work folder: a planted .pth would run at start-up).
    inner = [*options.runner_prefix, options.python, "-s", "-P", "-m", "autograder.grader.runner"]
    inner += [str(req_r), str(rep_w)]
    cmd = sbx.bwrap_command(inner, workdir, cfg, privileged) if isolation == "bubblewrap" else inner
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=str(workdir),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=subprocess.STDOUT,
            pass_fds=(req_r, rep_w),
            start_new_session=True,
            close_fds=True,
        )
    except BaseException:
        for fd in (req_w, rep_r, out_r):
            os.close(fd)
        raise
    finally:
        os.close(req_r)
        os.close(rep_w)
        os.close(out_w)
    return RunnerProcess(proc, req_w, rep_r, workdir, sbx.BoundedOutput(out_r, cfg.output_bytes), marker, isolation)


# ---------------------------------------------------------------------------------------------


class Session:
    """One notebook's runner: executes the selected cells, restarts after deaths and timeouts."""

    def __init__(self, plans: list[nbmod.CellPlan], options: GradeOptions, deadline: float) -> None:
        self.plans = plans
        self.options = options
        self.deadline = deadline
        self.workdir = Path(tempfile.mkdtemp(prefix="grader-run-"))
        self.runner: RunnerProcess | None = None
        self.skip: dict[int, str] = {}  # plan index -> why it is skipped on restarts
        self.outcomes: dict[int, dict] = {}  # plan index -> first outcome
        self.restarts = 0
        self.notes: list[str] = []
        self.device = ""
        self.failure = ""  # why no runner could be started
        self.runner_info: dict = {}
        self.output_bytes = 0  # student output of every runner of this session
        self.output_truncated = False
        self.isolation, self.isolation_note = options.isolation()
        self.stray_frames = 0  # frames of retired runners that answered no request
        self.withhold_output = False  # set once reference code was shipped: no runner log tail in messages

    def stray_note(self) -> str:
        """One note when the student's process wrote frames that answered no request, else ""."""
        count = self.stray_frames + (self.runner.stray_frames if self.runner is not None else 0)
        if not count:
            return ""
        return (
            f"the student's process wrote {count} frame(s) to the reply pipe that answered no request "
            "(forged or stale replies): they were dropped and credited nothing"
        )

    # -- lifecycle
    def _retire(self) -> None:
        """Kill the current runner and keep the size of what it printed."""
        if self.runner is not None:
            self.runner.kill()
            self.output_bytes += self.runner.output.total
            self.output_truncated = self.output_truncated or self.runner.output.truncated
            self.stray_frames += self.runner.stray_frames
            self.runner = None

    def start(self) -> bool:
        """Start a runner and execute the cells; return False when no working runner could be had."""
        while True:
            self._retire()
            try:
                self.runner = launch_runner(self.workdir, self.options)
            except OSError as err:
                self.failure = f"could not start the runner: {err}"
                return False
            start_deadline = time.monotonic() + self.options.startup_timeout
            try:
                header, _ = self.runner.request({"use_ipython": self.options.use_ipython}, start_deadline)
            except (RunnerDied, RunnerTimeout) as err:
                tail = [] if self.withhold_output else self.runner.log_tail(600).strip().splitlines()
                self.failure = f"the runner did not start ({err})" + (f": {tail[-1]}" if tail else "")
                self._retire()
                return False
            if not self.withhold_output:  # a restarted runner's hello could quote what the student's code copied
                self.device = str(header.get("device", ""))[:200]
                self.runner_info = {
                    "ipython": header.get("ipython") is True,
                    "python": str(header.get("python", ""))[:20],
                }
            restart_needed = self._run_cells()
            if not restart_needed:
                return True
            self.restarts += 1
            if self.restarts > self.options.max_restarts:
                self.failure = "the runner was restarted too often while executing cells"
                self._retire()
                return False

    def _run_cells(self) -> bool:
        """Execute cells not skipped; return True when the runner must be restarted (a cell killed it)."""
        assert self.runner is not None
        for k, plan in enumerate(self.plans):
            if not plan.run:
                self.outcomes.setdefault(k, {"status": "skipped", "reason": plan.reason})
                continue
            if k in self.skip:
                continue
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.outcomes.setdefault(k, {"status": "skipped", "reason": "whole-notebook time limit reached"})
                continue
            limit = min(self.options.cell_timeout, remaining)
            hard = time.monotonic() + limit + 10.0
            try:
                header, _ = self.runner.request({"op": "cell", "source": plan.source, "timeout": limit}, hard)
            except RunnerDied as err:
                why = f"killed the student's process ({err}); skipped after a restart"
                self.skip[k] = why
                self.outcomes[k] = {"status": "failed", "reason": plan.reason, "error": why}
                self.notes.append(f"cell {plan.label()} {why}")
                return True
            except RunnerTimeout:
                why = f"did not stop at the cell time limit ({limit:g} s); process killed, skipped after a restart"
                self.skip[k] = why
                self.outcomes[k] = {"status": "failed", "reason": plan.reason, "error": why}
                self.notes.append(f"cell {plan.label()} {why}")
                return True
            error = header.get("error")
            if k not in self.outcomes:
                if error:
                    self.outcomes[k] = {"status": "failed", "reason": plan.reason, "error": str(error)[:500]}
                else:
                    self.outcomes[k] = {"status": "ran", "reason": plan.reason}
        return False

    def ensure_runner(self) -> bool:
        if self.runner is not None and self.runner.alive():
            return True
        return self.restart()

    def restart(self) -> bool:
        self.restarts += 1
        if self.restarts > self.options.max_restarts:
            self._retire()
            self.failure = "the runner was restarted too often"
            return False
        return self.start()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self._retire()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- requests during tests
    def request(self, message: dict, deadline: float) -> tuple[dict, bytes]:
        if self.runner is None:
            raise RunnerDied(self.failure or "no runner")
        return self.runner.request(message, deadline)

    def cells_summary(self) -> dict:
        ran: list[int] = []
        skipped: list[int] = []
        failed: list[int] = []
        details: list[dict[str, Any]] = []
        for k, plan in enumerate(self.plans):
            outcome = self.outcomes.get(k, {"status": "skipped", "reason": "not reached"})
            entry = {"cells": list(plan.indices), "kind": plan.kind, **outcome}
            details.append(entry)
            target = {"ran": ran, "failed": failed}.get(outcome["status"], skipped)
            target.extend(plan.indices)
        return {"ran": ran, "skipped": skipped, "failed": failed, "details": details}


class RemoteStudent(Student):
    """The student's code lives in a runner process; only sanitized plain data comes back."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.deadline = time.monotonic() + 60.0
        self.uses: tuple[str, ...] = ()  # graded functions of the running test (never shipped)
        # Set for good once a probe shipped reference code: the student's code may have copied it (into
        # a global, a file of the work folder that outlives restarts), so from then on no text that the
        # student's process sends reaches a message (see `_decode`).
        self.shipped_reference = False
        self.returned_text: set[str] = set()  # strings in values returned while withholding (this test)

    def has(self, name: str) -> bool:
        header, _ = self.session.request({"op": "has", "name": str(name)}, self.deadline)
        return header.get("kind") == "has" and header.get("value") is True

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        header, payload = self.session.request(
            {"op": "call", "name": name, "args": args, "kwargs": kwargs}, self.deadline
        )
        return self._note_text(
            self._decode(header, payload, f"`{name}`", WITHHELD_LATER if self.shipped_reference else "")
        )

    def probe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        module = sys.modules.get(fn.__module__)
        path = getattr(module, "__file__", None)
        if module is None or not path:
            raise TypeError(f"probe {fn!r} is not a module-level function of an importable module")
        message = {
            "op": "probe",
            "module": fn.__module__,
            "qualname": fn.__qualname__,
            "args": args,
            "kwargs": kwargs,
            "source": _shipped_probe(str(path), fn.__qualname__),
        }  # course/ is masked
        chooser = getattr(module, "reference_helpers", None)
        helpers = tuple(chooser(fn.__qualname__, args)) if callable(chooser) else ()
        helpers = tuple(h for h in helpers if h not in self.uses)  # never the reference of what is tested
        stem = getattr(module, "STEM", None)
        withhold = WITHHELD_LATER if self.shipped_reference else ""
        if helpers and isinstance(stem, str):
            message["reference"] = {"stem": stem, "names": list(helpers), "source": _shipped_reference(stem, helpers)}
            self.shipped_reference = True
            self.session.withhold_output = True
            withhold = WITHHELD
        header, payload = self.session.request(message, self.deadline)
        return self._note_text(self._decode(header, payload, "the student's code", withhold))

    def _note_text(self, value: Any) -> Any:
        """Keep the strings of a value returned while withholding: `scrub` takes them out of the message."""
        if self.shipped_reference:
            self.returned_text.update(_strings_in(value))
        return value

    def scrub(self, result: Result, test_text: str = "") -> Result:
        """A failed `result` with every returned string of 4+ characters that its message quotes replaced by
        a mark, except strings the test's own source holds (its dict keys and names, not the student's)."""
        if result.state == "passed":
            return result  # the message is the test's description
        message = result.message
        quoted = (t for t in self.returned_text if len(t) >= 4 and t not in test_text)
        for text in sorted(quoted, key=len, reverse=True):
            message = message.replace(text, "<withheld>")
        if message == result.message:
            return result
        note = "returned text is withheld: trusted code ran beside yours"
        return dataclasses.replace(result, message=f"{message} ({note})")

    @staticmethod
    def _decode(header: dict, payload: bytes, what: str, withhold: str = "") -> Any:
        """A reply as a value or the grader exception it stands for.

        `withhold` (why, for the message; "" for no): reference code was shipped into this student's
        process, so the student's code could have read it. Then no text of the reply reaches a message:
        errors are rebuilt here from their kind and a plain exception class name, and a returned value
        may hold only short identifier-like strings (`_check_returned_text`).
        """
        kind = header.get("kind")
        message = str(header.get("message", ""))[:2000]
        if kind == "ok":
            try:
                value = student_api.load_sanitized(payload)
            except Exception as err:  # noqa: BLE001 - forged or corrupt bytes
                raise fw.StudentError(f"{what} returned an unusable value ({type(err).__name__})") from None
            if withhold:
                _check_returned_text(value, what, withhold)
            return value
        if withhold:
            raise _withheld_error(kind, header.get("error_type"), what, withhold)
        errors = {
            "not_attempted": fw.NotAttempted,
            "student_error": fw.StudentError,
            "missing": fw.Missing,
            "test_failure": fw.TestFailure,
        }
        if kind in errors:
            raise errors[kind](message)
        raise fw.StudentError(f"{what}: unexpected reply from the student's process ({kind!r})")


WITHHELD = "its message is withheld: this test ran trusted code beside yours"
WITHHELD_LATER = "its message is withheld: an earlier test ran trusted code beside yours in this process"
_TEXT_ITEM = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_. ]{0,79})?")  # names, dotted keys, "no error"


def _plain_class_name(value: object) -> str:
    """`value` if it is a plain identifier of at most 40 characters (an exception class name), else ""."""
    return value if isinstance(value, str) and len(value) <= 40 and value.isidentifier() else ""


def _withheld_error(kind: object, error_type: object, what: str, why: str = WITHHELD) -> Exception:
    """The grader exception for an error reply whose text is withheld (built here, from the kind alone)."""
    name = _plain_class_name(error_type)
    if kind == "not_attempted":
        return fw.NotAttempted(f"{what} still raises NotImplementedError (not attempted)")
    if kind == "missing":
        return fw.Missing(f"{what}: a function it needs is not defined in the submission ({why})")
    if kind == "test_failure":
        return fw.TestFailure(f"{what}: a check that ran in the student's process failed ({why})")
    if kind == "student_error":
        return fw.StudentError(f"{what} raised {name} ({why})" if name else f"{what} failed ({why})")
    return fw.StudentError(f"{what}: unexpected reply from the student's process ({why})")


def _strings_in(value: Any) -> list[Any]:
    """Every str and bytes inside a loaded value (dict keys included; tensors hold none)."""
    found: list[Any] = []
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        elif isinstance(item, (str, bytes, bytearray)):
            found.append(item)
    return found


def _check_returned_text(value: Any, what: str, why: str = WITHHELD) -> None:
    """Refuse a returned value whose strings could carry copied source: bytes, or text that is not a
    name (letters, digits, `_`, `.` and spaces, at most 80 characters: no operators, brackets, newlines).
    Names that a test quotes are then taken out of its message (`RemoteStudent.scrub`)."""
    for item in _strings_in(value):
        if not isinstance(item, str):
            raise fw.StudentError(f"{what} returned bytes ({why})")
        if not _TEXT_ITEM.fullmatch(item):
            raise fw.StudentError(f"{what} returned text that is not a plain name ({why})")


def _test_text(test: HiddenTest) -> str:
    """The source file of the module defining `test` ("" when it cannot be read)."""
    module = sys.modules.get(getattr(test.func, "__module__", ""))
    path = getattr(module, "__file__", None)
    return _file_text(str(path)) if path else ""


@functools.lru_cache(maxsize=64)
def _file_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


@functools.lru_cache(maxsize=64)
def _shipped_probe(path: str, qualname: str) -> str:
    return trusted.closure_source(Path(path).read_text(encoding="utf-8"), [qualname])


@functools.lru_cache(maxsize=64)
def _shipped_reference(stem: str, names: tuple[str, ...]) -> str:
    return trusted.reference_closure(stem, names)


# ---------------------------------------------------------------------------------------------


def _result(test: HiddenTest, state: str, message: str) -> Result:
    return Result(test.name, test.grade_id, state, test.points if state == "passed" else 0.0, test.points, message)


def _all_tests(suite: Suite, state: str, message: str) -> list[dict]:
    return [{**_result(t, state, message).to_dict(), "duration_s": 0.0} for t in suite.tests]


def run_tests(session: Session, suite: Suite, options: GradeOptions) -> list[dict]:
    """Run every hidden test of `suite` against the session's runner, restarting it when needed."""
    student = RemoteStudent(session)
    rows: list[dict] = []
    for test in suite.tests:
        t0 = time.monotonic()
        remaining = session.deadline - t0
        if remaining <= 0:
            rows.append(
                {
                    **_result(test, "timeout", "not run: the whole-notebook time limit was reached").to_dict(),
                    "duration_s": 0.0,
                }
            )
            continue
        if session.runner is None or not session.runner.alive():
            if not session.ensure_runner():
                rows.append(
                    {**_result(test, "kernel died", f"not run: {session.failure}").to_dict(), "duration_s": 0.0}
                )
                continue
        limit = min(options.test_timeout, remaining)
        student.deadline = time.monotonic() + limit
        student.uses = tuple(test.uses)
        student.returned_text = set()
        try:
            result = fw.run_test(test, student)
            result = student.scrub(result, _test_text(test))
        except RunnerTimeout:
            by_notebook = limit < options.test_timeout
            why = (
                "the whole-notebook time limit was reached"
                if by_notebook
                else f"the test took longer than {options.test_timeout:g} s (infinite loop?)"
            )
            result = _result(test, "timeout", why)
            session.restart()
        except RunnerDied as err:
            result = _result(test, "kernel died", f"the student's process died during this test: {err}")
            session.restart()
        rows.append({**result.to_dict(), "duration_s": round(time.monotonic() - t0, 3)})
    note = session.stray_note()
    if note:
        session.notes.append(note)
    return rows


@dataclass
class NotebookContext:
    """Everything shared by all submissions of a batch."""

    suites: dict[str, Suite]
    releases: dict[str, nbmod.ReleaseInfo] = field(default_factory=dict)
    options: GradeOptions = field(default_factory=GradeOptions)

    def known(self) -> dict[str, set[str]]:
        return {stem: {n for t in s.tests for n in t.uses} for stem, s in self.suites.items()}


def grade_notebook_bytes(
    data: bytes | None, relpath: str, source: str, ctx: NotebookContext, read_error: str = ""
) -> GradeRecord:
    """Grade one submitted file; always returns a record (never raises for anything a student did)."""
    t0 = time.monotonic()
    digest = hashlib.sha256(data or b"").hexdigest()
    record = GradeRecord(source=source, relpath=relpath, sha256=digest, graded_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    parsed: nbmod.ParsedNotebook | None = None
    error = read_error
    if not error:
        try:
            parsed = nbmod.parse_notebook(data or b"")
            record.reasons += parsed.notes
        except nbmod.NotebookError as err:
            error = str(err)
    stem, stem_rule = nbmod.identify_stem(parsed, relpath, ctx.known(), ctx.releases)
    student, student_rule = nbmod.identify_student(relpath, stem)
    record.student, record.student_rule, record.stem, record.stem_rule = student, student_rule, stem, stem_rule
    suite = ctx.suites.get(stem) if stem else None
    if suite is None:
        record.reasons.append(
            f"could not tell which notebook this is ({stem_rule}); nothing graded"
            if stem is None
            else f"no hidden tests for {stem}"
        )
        if error:
            record.reasons.append(error)
        return _finish(record, 0.0, t0)
    if error:
        record.reasons.append(error)
        record.tests = _all_tests(suite, "error", error)
        return _finish(record, suite.max_points, t0)
    assert parsed is not None and stem is not None  # a suite was found for this stem, and the file parsed
    graded = sorted({n for t in suite.tests for n in t.uses})
    plans = nbmod.plan_cells(parsed, ctx.options.cells, graded, ctx.releases.get(stem))
    _note_test_cells(parsed, suite, record.reasons)
    session = Session(plans, ctx.options, time.monotonic() + ctx.options.notebook_timeout)
    record.isolation = session.isolation
    if session.isolation_note:
        record.reasons.append(session.isolation_note)
    try:
        if not session.start():
            record.reasons.append(session.failure)
            record.tests = _all_tests(suite, "kernel died", f"not run: {session.failure}")
        else:
            record.tests = run_tests(session, suite, ctx.options)
        record.device = session.device
        record.cells = session.cells_summary()
        record.reasons += session.notes
        record.restarts = session.restarts
        record.runner = session.runner_info
    finally:
        session.close()
    record.output_bytes = session.output_bytes
    if session.output_truncated:
        record.reasons.append(
            f"the notebook printed {session.output_bytes / 2**20:.1f} MiB; only the first "
            f"and last {ctx.options.sandbox.output_bytes // 2048} KiB were kept"
        )
    return _finish(record, suite.max_points, t0)


def _note_test_cells(parsed: nbmod.ParsedNotebook, suite: Suite, reasons: list[str]) -> None:
    if not parsed.has_nbgrader_metadata:
        reasons.append("no nbgrader metadata (stripped by an editor?): cells matched by content")
        return
    ids = [c.grade_id for c in parsed.cells if c.is_meta_test and c.grade_id]
    missing = [g for g in suite.grade_ids() if g not in ids]
    if missing:
        reasons.append(f"test cells missing from the notebook: {', '.join(missing)} (hidden tests ran anyway)")
    dupes = sorted({g for g in ids if ids.count(g) > 1})
    if dupes:
        reasons.append(f"duplicated test cells: {', '.join(dupes)} (graded once)")


def _finish(record: GradeRecord, max_points: float, t0: float) -> GradeRecord:
    record.points = round(sum(float(t["points"]) for t in record.tests), 4)
    record.max_points = max_points
    record.duration_s = round(time.monotonic() - t0, 3)
    return record
