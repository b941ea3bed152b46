"""Isolation of the runner process (the student's code): bubblewrap when available, rlimits always.

Two levels, chosen per grading run and written into every result as ``"isolation"``:

- ``bubblewrap`` (Linux with /usr/bin/bwrap and working namespaces): the runner starts inside
  ``bwrap`` with a new network namespace (no network at all, not even the host's loopback), a new PID
  namespace with ``--die-with-parent`` (everything the student starts dies with the runner) and an
  allow-listed filesystem (``bwrap_command``): an empty root with only the system folders, the
  interpreter, the grader's runtime, course_lib and the data it needs bound read-only, the course's
  hidden parts (autograder/course, solutions/, .git) masked in every copy of the course those binds
  expose, a private /tmp, and the student's work folder as the only writable place; the checkout, its
  .git, $HOME, other clones and the submissions are absent. When the grader runs as root, bwrap keeps
  only CAP_SETUID/CAP_SETGID for the runner, which uses them once, before any student code, to become
  uid/gid 65534 (nobody) for good: a real unprivileged user outside the sandbox too.
- ``process`` (only with an explicit ``--sandbox process``; ``auto`` refuses to grade without bubblewrap:
  Colab, macOS, containers without user namespaces): a separate process in its
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
    "bwrap_usable",
    "SandboxUnavailable",
    "refusal_message",
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


# Host folders every runner gets read-only. /bin, /sbin, /lib* are usually symlinks into /usr (merged
# /usr): they are recreated as the same symlinks; where they are real folders they are bound.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Files of /etc that are never shown, even where uid 65534 could not read them anyway.
ETC_MASKED = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers", "/etc/security/opasswd")
# The course's instructor-only parts, wherever a copy of the course is bound (the checkout, a PYTHONPATH
# folder, a non-editable install in site-packages, an egg): relative paths masked with an empty folder.
HIDDEN_PARTS = ("autograder/course", "solutions", ".git")


def _system_args() -> list[str]:
    """bwrap arguments for /usr, /etc and the /bin, /sbin, /lib* folders or symlinks of this host."""
    args: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


@functools.cache
def bwrap_works(path: str) -> tuple[bool, str]:
    """Try bwrap once with the namespaces and the allow-listed root we use; (ok, why not)."""
    if not sys.platform.startswith("linux"):
        return False, "bubblewrap needs Linux"
    cmd = [
        path,
        *_system_args(),
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
    ]
    if os.geteuid() != 0:
        cmd.append("--unshare-user")
    else:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    true = shutil.which("true") or "/usr/bin/true"
    try:
        proc = subprocess.run([*cmd, true], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap could not run ({err})"
    if proc.returncode != 0:
        return False, "bwrap failed: " + proc.stderr.decode("utf-8", "replace").strip()[:200]
    return True, ""


def bwrap_usable() -> bool:
    """Does bubblewrap work here (what `--sandbox auto` needs)?"""
    path = bwrap_path()
    return bool(path) and bwrap_works(path)[0]


class SandboxUnavailable(RuntimeError):
    """bubblewrap does not work here and process isolation was not asked for explicitly."""


def refusal_message(why: str) -> str:
    """Why `grade` refuses to fall back to process isolation, how to fix it, and how to grade anyway."""
    return (
        f"bubblewrap, the grader's sandbox, does not work on this machine ({why}). Without it the "
        "students' code runs as your user with your files and network: it could read the hidden tests, "
        "the reference solutions and the other submissions, and earn points it did not earn. Install it "
        "with `bash scripts/install_sandbox.sh` (Debian/Ubuntu package bubblewrap; containers also need "
        "user namespaces), or, to grade anyway with process isolation and resource limits only (for "
        "submissions you trust), pass `--sandbox process`."
    )


def choose_isolation(mode: str) -> tuple[str, str]:
    """('bubblewrap' | 'process', note) for `mode`.

    `process` is only ever chosen explicitly (`mode='process'`): with `auto` or `bubblewrap` and no
    working bwrap this raises SandboxUnavailable (the CLI turns it into exit status 2 and
    `refusal_message`), instead of the silent fallback of earlier versions.
    """
    if mode == "process":
        return (
            "process",
            "process isolation requested (--sandbox process): no network or filesystem isolation; the "
            "student's code could read the grader's files (hidden tests, references, other submissions)",
        )
    path = bwrap_path()
    ok, why = bwrap_works(path) if path else (False, "bwrap is not installed (scripts/install_sandbox.sh)")
    if ok:
        return "bubblewrap", ""
    if mode == "bubblewrap":
        raise SandboxUnavailable(f"--sandbox bubblewrap: {why}")
    raise SandboxUnavailable(refusal_message(why))


# ---------------------------------------------------------------------------------------------
# What the runner must not see, and what it needs


def secret_paths(extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Instructor-only folders of the course package: all per-notebook grading content, and solutions/."""
    paths = [PACKAGE_ROOT / "autograder" / "course"]
    paths.append(PACKAGE_ROOT / "solutions")
    paths += [Path(p) for p in extra]
    return paths


def _site_dirs() -> list[Path]:
    """site-packages style folders of the runner's interpreter (where a non-editable install would put the course)."""
    found: list[str] = []
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        try:
            paths = sysconfig.get_paths(vars=scheme_vars) if scheme_vars else sysconfig.get_paths()
        except (KeyError, ValueError):
            continue
        found += [paths[k] for k in ("purelib", "platlib") if k in paths]
    try:
        import site

        found += site.getsitepackages()
    except (AttributeError, ImportError):
        pass
    found += [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    return _unique_existing(Path(p) for p in found)


def _unique_existing(paths: Iterable[Path]) -> list[Path]:
    result: list[Path] = []
    for p in paths:
        try:
            rp = p.resolve()
        except (OSError, RuntimeError):
            continue
        if rp.exists() and rp != Path("/") and rp not in result:
            result.append(rp)
    return result


def _package_dirs() -> list[Path]:
    """The trusted runtime the runner imports from the course package: autograder/, course_lib/, course_data."""
    dirs = [PACKAGE_ROOT / "autograder", PACKAGE_ROOT / "course_lib"]
    try:
        import course_lib

        dirs.append(Path(course_lib.__file__).parent)
    except Exception:  # noqa: BLE001 - course_lib broken: the runner will say so
        pass
    return dirs


def _data_dirs() -> list[Path]:
    """The data folder and the checkpoint cache the runner reads (COURSE_DATA_DIR, COURSE_CACHE_DIR, defaults)."""
    found = [Path(os.environ[k]) for k in ("COURSE_CACHE_DIR", "COURSE_DATA_DIR") if os.environ.get(k)]
    try:
        from course_lib.data import data_root
        from course_lib.training import cache_dir

        found += [data_root(), cache_dir()]
    except Exception:  # noqa: BLE001 - course_lib broken: the runner will say so
        pass
    return found


def _needed_paths() -> list[Path]:
    """Everything the runner gets read-only besides SYSTEM_DIRS (the allow-list; see bwrap_command)."""
    found: list[Path] = [
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(sys.base_exec_prefix),
        Path(os.path.realpath(sys.executable)).parent,
    ]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            found.append(Path(sysconfig.get_paths()[key]))
        except KeyError:
            pass
    found += _site_dirs()
    found += _package_dirs()
    found += _data_dirs()
    # PYTHONPATH folders, except the checkout itself (and its parents): of those, only the package parts above.
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and not _inside(PACKAGE_ROOT, Path(entry).resolve()):
            found.append(Path(entry))
    # Libraries outside /usr that the loader is told about (CUDA in /opt, /usr/local/nvidia, ...).
    for key in ("LD_LIBRARY_PATH", "CUDA_HOME"):
        found += [Path(e) for e in os.environ.get(key, "").split(os.pathsep) if e]
    paths = _unique_existing(found)
    system = [Path(d).resolve() for d in SYSTEM_DIRS if os.path.isdir(d)]
    # Drop what a system folder or another needed folder already covers.
    kept = [p for p in paths if not any(_inside(p, s) for s in system)]
    return sorted(p for p in kept if not any(q != p and _inside(p, q) for q in kept))


def _course_copies() -> list[Path]:
    """Folders that may hold a copy of the course: the package, site-packages, PYTHONPATH, the prefixes."""
    found = [*_package_dirs(), *_site_dirs(), Path(sys.prefix), Path(sys.base_prefix)]
    found += [Path(e) for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e]
    return _unique_existing(found)


def _hidden_inside(bound: list[Path], masks: Iterable[Path]) -> list[Path]:
    """What must be masked inside the visible folders: the course's hidden parts in every copy, extra masks."""
    prefixes = _unique_existing([Path(sys.prefix), Path(sys.base_prefix)])
    hidden: list[Path] = []
    for root in _course_copies():
        hidden += [root / part for part in HIDDEN_PARTS]
        if root.name == "autograder":  # the package folder itself
            hidden.append(root / "course")
        hidden += [sub / "autograder" / "course" for sub in root.glob("*") if sub.is_dir()]  # eggs, clones
        if root in prefixes:
            hidden.append(root / "src")  # pip's clones of editable VCS installs
    hidden += list(masks)
    visible = bound + [Path(d).resolve() for d in SYSTEM_DIRS if os.path.isdir(d)]
    return [h for h in _unique_existing(hidden) if any(_inside(h, v) for v in visible)]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def bwrap_command(inner: list[str], workdir: Path, cfg: SandboxConfig, privileged: bool) -> list[str]:
    """The bwrap argv wrapping `inner` (the runner command) for one runner.

    An allow-list: bwrap starts from an empty root, and the runner sees only
    - read-only: /usr, /etc (minus ETC_MASKED), the /bin, /sbin, /lib* symlinks or folders;
      the interpreter (sys.prefix, sys.base_prefix, the executable's folder, stdlib, site-packages);
      the course package's runtime (autograder/ without autograder/course, course_lib/, the data
      folder and the checkpoint cache); other PYTHONPATH folders; LD_LIBRARY_PATH and CUDA_HOME;
    - with the course's hidden parts (HIDDEN_PARTS, eggs, a prefix's src/) and cfg.masks masked by
      empty read-only folders wherever they fall inside those;
    - /dev (a minimal one, plus /dev/nvidia* and /dev/dri on a GPU machine), /proc (its own PID
      namespace), private tmpfs /tmp and /dev/shm, and the work folder read-write.
    Absent: the checkout's root and .git, solutions/, tests/, any other clone or copy of the course,
    $HOME and /root (pip, HF and torch hub caches), /work, /srv, /mnt, /opt, /home, /var, /run, /sys.
    A GPU needs only the device nodes, the driver's user-space libraries (/usr/lib/x86_64-linux-gnu,
    /usr/local/nvidia or a folder named in LD_LIBRARY_PATH / CUDA_HOME) and /proc/driver/nvidia (in
    /proc); the CUDA libraries of a pip-installed torch live in site-packages. On a GPU machine /sys is
    bound read-only too (the driver reads PCI and NUMA topology there).
    """
    bwrap = bwrap_path()
    assert bwrap is not None
    workdir = workdir.resolve()
    size = str(int(cfg.tmp_bytes))
    args = [
        bwrap,
        *_system_args(),
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
    gpu = sorted(Path("/dev").glob("nvidia*")) + [Path("/dev/dri")]
    for dev in gpu:  # GPUs stay usable
        if dev.exists():
            args += ["--dev-bind", str(dev), str(dev)]
    if any(dev.exists() for dev in gpu[:-1]) and os.path.isdir("/sys"):
        args += ["--ro-bind", "/sys", "/sys"]
    args += ["--size", size, "--tmpfs", "/dev/shm", "--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
    for secret_file in ETC_MASKED:
        if os.path.isfile(secret_file):
            args += ["--ro-bind", "/dev/null", secret_file]
    made = {Path("/"), Path("/tmp"), Path("/dev"), Path("/proc")}
    made.update(Path(d) for d in SYSTEM_DIRS)

    def parents(target: Path) -> None:
        for p in reversed(target.parents):
            if p not in made and not any(_inside(p, m) for m in bound):
                args.extend(["--perms", "0755", "--dir", str(p)])
                made.add(p)

    bound: list[Path] = []
    for needed in _needed_paths():
        if _inside(workdir, needed):
            continue  # never re-bind the work folder's parents read-only over it
        parents(needed)
        args += ["--ro-bind", str(needed), str(needed)]
        bound.append(needed)
    masks = [*secret_paths(), *(Path(m) for m in cfg.masks)]
    for hidden in _hidden_inside(bound, masks):
        if _inside(workdir, hidden):
            continue
        if hidden.is_dir():
            args += ["--perms", "0755", "--tmpfs", str(hidden), "--remount-ro", str(hidden)]
        else:
            args += ["--ro-bind", "/dev/null", str(hidden)]
    # The work folder: the only writable place besides the private /tmp and /dev/shm.
    parents(workdir)
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
