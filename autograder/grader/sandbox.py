"""Isolation of the runner process (the student's code): bubblewrap when available, rlimits always.

Two levels, chosen per grading run and written into every result as ``"isolation"``:

- ``bubblewrap`` (Linux with /usr/bin/bwrap and working namespaces): the runner starts inside
  ``bwrap`` with a new network namespace (no network at all, not even the host's loopback), a new PID
  namespace with ``--die-with-parent`` (everything the student starts dies with the runner), the
  root filesystem read-only, a private /tmp, $HOME hidden, the per-notebook grading content
  (autograder/course: hidden tests, references, mutants, probes, hints), solutions/, the extra hidden folders, the submissions and the output folder masked,
  and the student's work folder as the only writable place. When the grader runs as root, bwrap keeps
  only CAP_SETUID/CAP_SETGID for the runner, which uses them once, before any student code, to become
  uid/gid 65534 (nobody) for good: a real unprivileged user outside the sandbox too.
- ``process`` (no bwrap: Colab, macOS, containers without user namespaces): a separate process in its
  own session, the same resource limits, an environment without the grader's secrets, and on Linux a
  child-subreaper runner so that the judge can find and kill every descendant. No network or
  filesystem isolation: say so to the instructor (the results and the report do).

Resource limits are applied by the runner itself before any student code (``apply_runner_limits``):
RLIMIT_DATA (memory; RLIMIT_AS is an option), RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE and RLIMIT_CORE=0.
Student output never reaches the judge's memory or disk unbounded: ``BoundedOutput`` drains the
runner's stdout/stderr pipe and keeps only its head and tail.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SandboxConfig",
    "LIMITS_ENV",
    "MARKER_ENV",
    "NOBODY",
    "bwrap_path",
    "bwrap_works",
    "choose_isolation",
    "secret_paths",
    "bwrap_command",
    "runner_environment",
    "apply_runner_limits",
    "kill_tree",
    "find_marked",
    "BoundedOutput",
    "parse_size",
]

LIMITS_ENV = "AUTOGRADER_RUNNER_LIMITS"
MARKER_ENV = "AUTOGRADER_RUN_MARKER"
NOBODY = 65534
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
GiB = 1024**3
MiB = 1024**2

# Environment variables a runner may inherit (everything else, e.g. tokens and keys, is dropped).
_ENV_KEEP = {
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "COURSE_SIZE",
    "COURSE_CACHE_DIR",
    "COURSE_DATA_DIR",
    "COURSE_DEVICE",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "NVIDIA_VISIBLE_DEVICES",
    "CUBLAS_WORKSPACE_CONFIG",
    "PYTORCH_CUDA_ALLOC_CONF",
    "TQDM_MININTERVAL",
}
_ENV_KEEP_PREFIX = ("LC_", "COURSE_")


def parse_size(text: str | int | float) -> int:
    """'6G', '512M', '64k' or a number of bytes -> bytes (ValueError on anything else)."""
    if isinstance(text, (int, float)):
        if text <= 0:
            raise ValueError("a size must be positive")
        return int(text)
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}
    try:
        number = float(value[:-1]) * scale[value[-1]] if value and value[-1] in scale else float(value)
    except (ValueError, IndexError):
        raise ValueError(f"not a size: {text!r} (use e.g. 6G, 512M or a number of bytes)") from None
    if number <= 0:
        raise ValueError(f"a size must be positive: {text!r}")
    return int(number)


@dataclass
class SandboxConfig:
    """Isolation level and limits of every runner of a grading run (defaults for real grading)."""

    mode: str = "auto"  # auto | bubblewrap | process
    memory_bytes: int = 6 * GiB  # RLIMIT_DATA (or RLIMIT_AS with memory_kind="as")
    memory_kind: str = "data"
    cpu_seconds: float | None = None  # RLIMIT_CPU; None: the whole-notebook time limit x threads + 60 s
    nproc: int = 512  # RLIMIT_NPROC (processes and threads of the runner's uid)
    file_bytes: int = 1 * GiB  # RLIMIT_FSIZE: the largest file the student may write
    output_bytes: int = 256 * 1024  # runner stdout/stderr kept by the judge (head + tail)
    tmp_bytes: int = 512 * MiB  # size of the private /tmp and /dev/shm (bubblewrap)
    uid: int = NOBODY  # unprivileged uid/gid when the grader runs as root
    masks: tuple[str, ...] = ()  # extra paths hidden from the runner (submissions, outputs)

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "bubblewrap", "process"):
            raise ValueError(f"sandbox mode must be auto, bubblewrap or process, not {self.mode!r}")
        if self.memory_kind not in ("data", "as"):
            raise ValueError("memory_kind must be 'data' or 'as'")
        for name in ("memory_bytes", "nproc", "file_bytes", "output_bytes", "tmp_bytes"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"sandbox limit {name} must be positive")
        if self.cpu_seconds is not None and self.cpu_seconds <= 0:
            raise ValueError("sandbox limit cpu_seconds must be positive")


# ---------------------------------------------------------------------------------------------
# Choosing the isolation level


def bwrap_path() -> str | None:
    return shutil.which("bwrap") or (("/usr/bin/bwrap") if os.path.exists("/usr/bin/bwrap") else None)


@functools.cache
def bwrap_works(path: str) -> tuple[bool, str]:
    """Try bwrap once with the namespaces we use; (ok, why not)."""
    if not sys.platform.startswith("linux"):
        return False, "bubblewrap needs Linux"
    cmd = [
        path,
        "--ro-bind",
        "/",
        "/",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    if os.geteuid() != 0:
        cmd.append("--unshare-user")
    else:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    try:
        proc = subprocess.run([*cmd, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap could not run ({err})"
    if proc.returncode != 0:
        return False, "bwrap failed: " + proc.stderr.decode("utf-8", "replace").strip()[:200]
    return True, ""


def choose_isolation(mode: str) -> tuple[str, str]:
    """('bubblewrap' | 'process', note). `mode='bubblewrap'` raises when bwrap does not work."""
    if mode == "process":
        return "process", "process isolation requested (--sandbox process): no network or filesystem isolation"
    path = bwrap_path()
    ok, why = bwrap_works(path) if path else (False, "bwrap is not installed (scripts/install_sandbox.sh)")
    if ok:
        return "bubblewrap", ""
    if mode == "bubblewrap":
        raise RuntimeError(f"--sandbox bubblewrap: {why}")
    return (
        "process",
        f"bubblewrap unavailable ({why}): process isolation and resource limits only; the "
        f"student's code had network access and could read the grader's files",
    )


# ---------------------------------------------------------------------------------------------
# What the runner must not see, and what it needs


def secret_paths(extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Instructor-only folders of the course package: all per-notebook grading content, and solutions/."""
    paths = [PACKAGE_ROOT / "autograder" / "course"]
    paths.append(PACKAGE_ROOT / "solutions")
    paths += [Path(p) for p in extra]
    return paths


def _needed_paths() -> list[Path]:
    """Folders the runner's interpreter and the course package need (re-bound read-only under masks)."""
    found: list[Path] = [
        PACKAGE_ROOT,
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(os.path.realpath(sys.executable)).parent,
    ]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            found.append(Path(sysconfig.get_paths()[key]))
        except KeyError:
            pass
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry:
            found.append(Path(entry))
    for key in ("COURSE_CACHE_DIR", "COURSE_DATA_DIR"):
        if os.environ.get(key):
            found.append(Path(os.environ[key]))
    try:
        from course_lib.training import cache_dir

        found.append(cache_dir())
    except Exception:  # noqa: BLE001 - course_lib broken: the runner will say so
        pass
    result: list[Path] = []
    for p in found:
        try:
            rp = p.resolve()
        except OSError:
            continue
        if rp.exists() and rp not in result:
            result.append(rp)
    return result


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _mkdirs(args: list[str], target: Path, under: Path) -> None:
    """Create the folders between a tmpfs mount `under` and `target` with mode 0755 (bwrap uses 0700)."""
    chain = []
    p = target.parent
    while p != under and under in p.parents:
        chain.append(p)
        p = p.parent
    for d in reversed(chain):
        args += ["--perms", "0755", "--dir", str(d)]


def bwrap_command(inner: list[str], workdir: Path, cfg: SandboxConfig, privileged: bool) -> list[str]:
    """The bwrap argv wrapping `inner` (the runner command) for one runner."""
    bwrap = bwrap_path()
    assert bwrap is not None
    workdir = workdir.resolve()
    args = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    for dev in sorted(Path("/dev").glob("nvidia*")) + [Path("/dev/dri")]:  # GPUs stay usable
        if dev.exists():
            args += ["--dev-bind", str(dev), str(dev)]
    size = str(int(cfg.tmp_bytes))
    args += ["--size", size, "--tmpfs", "/dev/shm"]
    # Private /tmp and a hidden $HOME, then the interpreter/package folders that live under them.
    tmpfs_roots = [Path("/tmp")]
    home = Path(os.path.expanduser("~")).resolve()
    for extra_root in (home, Path("/root"), Path("/var/tmp")):
        if extra_root != Path("/") and extra_root.is_dir() and extra_root not in tmpfs_roots:
            tmpfs_roots.append(extra_root)
    for root in tmpfs_roots:
        if root.is_dir():
            args += ["--size", size, "--tmpfs", str(root)]
    for needed in _needed_paths():
        under = next((r for r in tmpfs_roots if _inside(needed, r) and needed != r), None)
        if under is not None and not _inside(workdir, needed):
            _mkdirs(args, needed, under)
            args += ["--ro-bind", str(needed), str(needed)]
    # Secrets of the grader machine that stay visible under the read-only root.
    for secret_file in ("/etc/shadow", "/etc/gshadow"):
        if os.path.exists(secret_file):
            args += ["--ro-bind", "/dev/null", secret_file]
    # Instructor folders, extra hidden folders, submissions, the output folder.
    for masked in [*secret_paths(), *(Path(m) for m in cfg.masks)]:
        try:
            mp = masked.resolve()
        except OSError:
            continue
        if (
            not mp.exists()
            or _inside(workdir, mp)
            or any(_inside(n, mp) for n in (PACKAGE_ROOT, Path(sys.prefix).resolve()))
        ):
            continue
        if any(_inside(mp, r) for r in tmpfs_roots) and not any(_inside(mp, n) for n in _needed_paths()):
            continue  # already invisible
        if mp.is_dir():
            args += ["--tmpfs", str(mp), "--remount-ro", str(mp)]
        else:
            args += ["--ro-bind", "/dev/null", str(mp)]
    # The work folder: the only writable place (besides the private /tmp).
    under = next((r for r in tmpfs_roots if _inside(workdir, r) and workdir != r), None)
    if under is not None:
        _mkdirs(args, workdir, under)
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    if privileged:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    return [*args, "--", *inner]


def runner_environment(base: dict[str, str], workdir: Path, marker: str) -> dict[str, str]:
    """The runner's environment: an allow-list of the grader's variables (no tokens or keys) + a marker."""
    env = {k: v for k, v in base.items() if k in _ENV_KEEP or k.startswith(_ENV_KEEP_PREFIX)}
    env.update(
        {k: base[k] for k in ("MPLBACKEND", "TQDM_DISABLE", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED") if k in base}
    )
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["HOME"] = str(workdir)
    env["TMPDIR"] = "/tmp"
    env["MPLCONFIGDIR"] = str(workdir / ".matplotlib")
    env[MARKER_ENV] = marker
    return env


def new_marker() -> str:
    return f"autograder-run-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------------------------
# Runner side: limits and privileges, before any student code


def _tasks_of_uid(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            if int(fields.get("Uid", "").split()[0]) == uid:
                count += int(fields.get("Threads", "1").strip())
        except (ValueError, IndexError):
            continue
    return count


def apply_runner_limits() -> dict:
    """Called by the runner at start-up: rlimits, subreaper, drop to the unprivileged uid; return what was set."""
    raw = os.environ.pop(LIMITS_ENV, "")
    if not raw:
        return {}
    spec = json.loads(raw)
    applied: dict = {}
    try:
        import resource
    except ImportError:  # Windows: nothing to do
        return {"note": "no resource module"}

    def setlimit(name: str, soft: int, hard: int | None = None) -> None:
        which = getattr(resource, name, None)
        if which is None:
            return
        hard = soft if hard is None else hard
        cur_soft, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
            applied[name] = soft
        except (ValueError, OSError):
            pass

    setlimit("RLIMIT_CORE", 0)
    if spec.get("memory_bytes"):
        setlimit("RLIMIT_AS" if spec.get("memory_kind") == "as" else "RLIMIT_DATA", int(spec["memory_bytes"]))
    if spec.get("cpu_seconds"):
        cpu = int(spec["cpu_seconds"])
        setlimit("RLIMIT_CPU", cpu, cpu + 5)
    if spec.get("file_bytes"):
        setlimit("RLIMIT_FSIZE", int(spec["file_bytes"]))
    drop = spec.get("drop_to_uid")
    if spec.get("nproc"):
        base = 0 if drop is not None else _tasks_of_uid(os.getuid())
        setlimit("RLIMIT_NPROC", int(spec["nproc"]) + base)
    if sys.platform.startswith("linux"):
        try:  # orphans of the student's processes stay our descendants (the judge can find and kill them)
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except Exception:  # noqa: BLE001
            pass
    if drop is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(int(drop))
        os.setuid(int(drop))
        if os.geteuid() == 0 or os.getegid() == 0:
            raise RuntimeError("could not drop root privileges")
        applied["uid"] = int(drop)
        if sys.platform.startswith("linux"):
            try:  # changing credentials cleared the parent-death signal: set it again
                import ctypes

                ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
            except Exception:  # noqa: BLE001
                pass
    return applied


# ---------------------------------------------------------------------------------------------
# Judge side: killing everything a runner started, bounded output


def _proc_ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        return int(data[data.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _has_marker(pid: int, marker: bytes) -> bool:
    for name in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as fh:
                if marker in fh.read():
                    return True
        except OSError:
            continue
    return False


def find_marked(marker: str) -> list[int]:
    """Pids of live processes whose environment or command line carries `marker` (Linux /proc)."""
    if not os.path.isdir("/proc"):
        return []
    key = marker.encode()
    me = os.getpid()
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) != me and _has_marker(int(e), key)]


def _descendants(root: int) -> list[int]:
    if not os.path.isdir("/proc"):
        return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _proc_ppid(int(entry))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.append(child)
                todo.append(child)
    return out


def kill_tree(pid: int, marker: str | None = None) -> None:
    """SIGSTOP then SIGKILL a runner's process group, its descendants and every process carrying `marker`."""
    for _ in range(3):
        victims = set(_descendants(pid))
        if marker:
            victims.update(find_marked(marker))
        victims.discard(os.getpid())
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for v in victims:
                try:
                    os.kill(v, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
        if not victims:
            break


class BoundedOutput:
    """Drain a pipe in a thread, keeping the first and last `limit // 2` bytes and counting the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.half = max(1024, int(limit) // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="runner-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                with self._lock:
                    self.total += len(chunk)
                    room = self.half - len(self.head)
                    if room > 0:
                        self.head += chunk[:room]
                        chunk = chunk[room:]
                    if chunk:
                        self.tail += chunk
                        if len(self.tail) > self.half:
                            del self.tail[: len(self.tail) - self.half]
        except OSError:
            pass
        finally:
            try:
                os.close(self.fd)
            except OSError:
                pass

    def close(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self, n: int | None = None) -> str:
        """The kept output (head, a cut mark, tail); the last `n` characters when given."""
        with self._lock:
            data = bytes(self.head)
            if self.truncated:
                data += f"\n[... {self.total - len(self.head) - len(self.tail)} bytes cut ...]\n".encode()
            data += bytes(self.tail)
        text = data.decode("utf-8", "replace")
        return text if n is None else text[-n:]
