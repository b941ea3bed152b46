"""The runner: a fresh Python process that holds one student's notebook state.

Started by the judge as ``python -m autograder.grader.runner READ_FD WRITE_FD``. It reads pickled
requests from READ_FD (cells to execute, `has`, `call`, `probe`, `quit`) and writes replies to
WRITE_FD as a JSON header plus, for results, `student_api.sanitize_bytes` payloads. Student output
(print, tracebacks) goes to the process's stdout/stderr, never to the reply pipe.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback
from typing import Any

from autograder.grader import trusted
from autograder.grader.protocol import pack_reply, read_frame, write_frame
from autograder.grader.sandbox import apply_runner_limits

__all__ = ["main"]


class CellTimeout(BaseException):
    """Raised by the alarm when a cell runs past its time limit (BaseException: `except Exception` misses it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout("cell timed out")


class Executor:
    """Runs cell sources with IPython's InteractiveShell when available, else plain exec."""

    def __init__(self, use_ipython: bool) -> None:
        self.shell = None
        if use_ipython:
            try:
                from IPython.core.interactiveshell import InteractiveShell

                self.shell = InteractiveShell.instance()
            except Exception:  # noqa: BLE001 - IPython missing or broken in any way: fall back to exec
                self.shell = None
            if self.shell is not None:
                try:
                    self.shell.colors = "nocolor"  # plain tracebacks in the runner log
                except Exception:  # noqa: BLE001 - cosmetic only
                    pass
        if self.shell is not None:
            self.namespace = self.shell.user_ns
        else:
            self.namespace = {"__name__": "__main__", "__builtins__": __builtins__}

    def run(self, source: str, timeout: float) -> str | None:
        """Execute one cell; return None on success or a one-line error description."""
        from autograder.grader.notebook import strip_magics
        from autograder.student import describe_exception

        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.01))
        error: BaseException | None = None
        try:
            if self.shell is not None:
                result = self.shell.run_cell(source, store_history=False, silent=False)
                error = result.error_before_exec or result.error_in_exec
            else:
                code = compile(strip_magics(source), "<cell>", "exec")
                exec(code, self.namespace)
        except CellTimeout as err:
            error = err
        except BaseException as err:  # noqa: BLE001 - allow_errors semantics: record and go on
            error = err
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self._close_figures()
        if error is None:
            return None
        if isinstance(error, CellTimeout):
            return f"cell timed out after {timeout:g} s"
        return describe_exception(error)

    @staticmethod
    def _close_figures() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            try:
                plt.close("all")
            except Exception:  # noqa: BLE001 - a student's broken figure must not fail the next cell
                pass


def _result_reply(value: Any, what: str) -> bytes:
    """The reply frame body for a returned value (without an id: `serve` adds it)."""
    return pack_reply(*_result_parts(value, what))


def _error_reply(err: BaseException) -> bytes:
    """The reply frame body for an exception (without an id: `serve` adds it)."""
    return pack_reply(*_error_parts(err))


def _result_parts(value: Any, what: str) -> tuple[dict, bytes]:
    from autograder.student import sanitize_bytes

    try:
        payload = sanitize_bytes(value)
    except Exception as err:  # noqa: BLE001
        return {"kind": "student_error", "message": f"{what} returned an unusable value: {err}"}, b""
    return {"kind": "ok"}, payload


def _error_parts(err: BaseException) -> tuple[dict, bytes]:
    from autograder import student as student_api
    from autograder import suite as fw

    kinds = {
        fw.TestFailure: "test_failure",
        fw.NotAttempted: "not_attempted",
        fw.StudentError: "student_error",
        fw.Missing: "missing",
    }
    cause = err.__cause__ if isinstance(err, fw.StudentError) and err.__cause__ is not None else err
    error_type = type(cause).__name__[:100]  # the judge keeps only this for tests that shipped trusted code
    for cls, kind in kinds.items():
        if isinstance(err, cls):
            return {"kind": kind, "message": str(err)[:2000], "error_type": error_type}, b""
    return {
        "kind": "student_error",
        "message": f"the student's code raised {student_api.describe_exception(err)}",
        "error_type": error_type,
    }, b""


def serve(read_fd: int, write_fd: int) -> None:
    """Answer requests until `quit` or the pipe closes."""
    from autograder import student as student_api

    init = pickle.loads(read_frame(read_fd))

    def reply(request_id: object, header: dict, payload: bytes = b"") -> None:
        """Write one reply frame whose header echoes the id of the request it answers."""
        header["id"] = request_id if isinstance(request_id, str) else None
        write_frame(write_fd, pack_reply(header, payload))

    executor = Executor(bool(init.get("use_ipython", True)))
    device = "cpu"
    try:
        import torch

        if torch.cuda.is_available():
            device = f"cuda ({torch.cuda.get_device_name(0)})"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
    except Exception:  # noqa: BLE001
        pass
    reply(
        init.get("id"),
        {
            "kind": "hello",
            "device": device,
            "pid": os.getpid(),
            "ipython": executor.shell is not None,
            "python": sys.version.split()[0],
        },
    )
    while True:
        request = pickle.loads(read_frame(read_fd))
        # The id leaves the request dict before student code runs, but `rid` stays readable from this
        # frame: that only lets the student's code answer the request it is serving, as its return value
        # does; the ids of later requests are drawn by the judge after this reply (protocol.py).
        rid = request.pop("id", None)
        op = request.get("op")
        if op == "quit":
            return
        if op == "cell":
            error = executor.run(request["source"], float(request.get("timeout", 60)))
            reply(rid, {"kind": "cell", "error": error})
        elif op == "has":
            value = executor.namespace.get(request["name"])
            reply(rid, {"kind": "has", "value": bool(callable(value))})
        elif op == "call":
            name = request["name"]
            try:
                value = student_api.call_in_namespace(
                    executor.namespace, name, tuple(request["args"]), dict(request["kwargs"])
                )
            except BaseException as err:  # noqa: BLE001
                reply(rid, *_error_parts(err))
                continue
            reply(rid, *_result_parts(value, f"`{name}`"))
        elif op == "probe":
            try:
                # Shipped source leaves the request before student code runs: what stays is compiled code
                # (no source text; `install_reference` keeps no copy). The judge still withholds every text
                # the student's process sends for tests that shipped reference code (judge.RemoteStudent).
                reference = request.pop("reference", None)
                shipped = str(request.pop("source", ""))
                if reference:  # trusted helpers the probe may swap in (the sandbox hides autograder/course)
                    trusted.install_reference(reference["stem"], reference["names"], reference.pop("source"))
                fn = trusted.load_shipped(shipped, request["qualname"], request["module"])
                del shipped
                value = fn(executor.namespace, *request["args"], **request["kwargs"])
            except NotImplementedError:
                reply(
                    rid,
                    {
                        "kind": "not_attempted",
                        "message": "the graded code still raises NotImplementedError (not attempted)",
                        "error_type": "NotImplementedError",
                    },
                )
                continue
            except BaseException as err:  # noqa: BLE001
                reply(rid, *_error_parts(err))
                continue
            finally:
                trusted.clear_reference()
            reply(rid, *_result_parts(value, "the student's code"))
        else:
            reply(rid, {"kind": "protocol_error", "message": f"unknown op {op!r}"})


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print("usage: python -m autograder.grader.runner READ_FD WRITE_FD (started by the grader)", file=sys.stderr)
        return 2
    apply_runner_limits()  # rlimits, subreaper, unprivileged uid: before any student code (and matplotlib)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib

        matplotlib.use("Agg")
    except Exception:  # noqa: BLE001
        pass
    read_fd, write_fd = int(argv[0]), int(argv[1])
    for fd in (read_fd, write_fd):
        os.set_inheritable(fd, False)  # shell escapes and subprocesses of student code do not get the pipes
    try:
        serve(read_fd, write_fd)
    except EOFError:
        return 0
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main())
