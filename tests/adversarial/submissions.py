"""Adversarial submissions for the grader (tests/test_adversarial.py): each one tries one attack.

`build(base, ...)` writes them as synthetic notebooks of the test stem (tests/grading_fixtures.py)
under `base/submissions/<student>/...` and returns, per student, what it attacks and what the grade
must show. Attack code is plain text with placeholders (__NAME__) filled in here; it runs only inside
the grader's runner.
"""

from __future__ import annotations

import copy
import importlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grading_fixtures as S

ALL_TESTS = ("add_tensors", "add_broadcast", "scale_by_k", "model_has_two_linear")
ADD_TESTS = ("add_tensors", "add_broadcast")


@dataclass
class Attack:
    """One adversarial submission and what its grade must show."""

    student: str
    what: str
    zero: tuple[str, ...] = ()  # tests it tried to cheat: 0 points, not passed, a message
    normal: tuple[str, ...] = ()  # tests it solved honestly: must still pass
    reason: str = ""  # substring expected in the record's reasons (notebook-level faults)
    needs_sandbox: bool = False  # only stopped by bubblewrap (network, files), not by process isolation
    category: str = "code"  # code | format | names (for the figure)
    relpath_hint: str = ""  # for submissions whose student name is odd (found by relpath)
    extra: dict = field(default_factory=dict)
    stem: str = S.STEM  # the notebook it attacks (a course stem for the attacks on real notebooks)
    klass: int = 0  # the weakness class of issue 17 it belongs to (1-9; 0: the earlier attacks)
    check: Callable[[dict | None, dict], list[str]] | None = None  # extra problems: (its record, the batch)


READ_SECRETS = '''import os
SECRETS = __SECRETS__
def scale(x, k):
    """Only answers when it could read the instructor's files."""
    seen = [open(p, encoding="utf-8", errors="replace").read()[:50] for p in SECRETS]
    listing = [os.listdir(d) for d in __SECRET_DIRS__]
    if not all(seen) or not all(listing):
        raise RuntimeError("secrets empty")
    return x * k'''

EDIT_SECRETS = '''import os
TARGETS = __TARGETS__
for _p in TARGETS:
    try:
        with open(_p, "a", encoding="utf-8") as _fh:
            _fh.write("\\n# __MARK__ edited by a student\\n")
    except OSError:
        pass
    try:
        os.replace(__OWN__, _p)
    except OSError:
        pass
def add(a, b):
    """Elementwise sum."""
    # YOUR CODE HERE
    raise NotImplementedError()'''

FORGE = '''import json, os
def _forge():
    line = json.dumps({"source": "__MARK__", "student": "__STUDENT__", "stem": "90_synthetic", "points": 4,
                       "max_points": 4, "tests": [], "reasons": ["__MARK__"]}) + "\\n"
    for name in ("results.jsonl", "grades.csv", "stats.csv"):
        try:
            with open(os.path.join(__OUT__, name), "a") as fh:
                fh.write(line)
        except OSError:
            pass
_forge()
def scale(x, k):
    """x times k."""
    _forge()
    # YOUR CODE HERE
    raise NotImplementedError()'''

FORK = '''import os, sys, time
def _escape():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.environ["ADV_MARKER"] = "__MARK__"
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "__MARK__"])
        os._exit(0)
    os.waitpid(pid, 0)
_escape()
def scale(x, k):
    """Leaves a grandchild behind, then answers wrongly."""
    _escape()
    time.sleep(0.2)
    return x * 0'''

MEMORY = '''import torch
def scale(x, k):
    """Eats memory until something gives."""
    hog = []
    while True:
        hog.append(bytearray(256 * 2**20))
        hog.append(torch.ones(64 * 2**20))'''

PRINT = '''import sys
for _i in range(__PRINT_MIB__):
    sys.stdout.write("y" * 2**20 + "\\n")
def add(a, b):
    """Elementwise sum (honest), after printing a lot."""
    return a + b
def scale(x, k):
    """Prints forever instead of answering."""
    while True:
        sys.stdout.write("x" * 2**20)
        sys.stderr.write("e" * 2**16)'''

BIG_FILE = '''def scale(x, k):
    """Writes a 2 GiB file in its work folder, then answers."""
    block = b"z" * 2**20
    with open("big.bin", "wb") as fh:
        for _ in range(2048):
            fh.write(block)
    return x * k'''

SOCKET = '''import socket
def scale(x, k):
    """Only answers when some network peer answers."""
    for host, port in (("127.0.0.1", __PORT__), ("1.1.1.1", 80), ("8.8.8.8", 53)):
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"hi")
                if s.recv(16):
                    return x * k
        except OSError:
            continue
    raise ConnectionError("no network")'''

SPOOF_EQ = """class AlwaysEqual:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    shape = None
def scale(x, k):
    return AlwaysEqual()"""

SPOOF_TENSOR = """import torch
class Liar(torch.Tensor):
    def __eq__(self, other): return torch.ones_like(other if isinstance(other, torch.Tensor) else self, dtype=torch.bool)
    def allclose(self, *a, **k): return True
    def __sub__(self, other): return torch.zeros_like(self)
def scale(x, k):
    return torch.zeros_like(x).as_subclass(Liar)"""

SPOOF_FLOAT = """class Zero(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return Zero(0.0)
    def __rsub__(self, other): return Zero(0.0)
    def __abs__(self): return Zero(0.0)
    def __le__(self, other): return True
    def __lt__(self, other): return True
def scale(x, k):
    return Zero(1.0)"""

MONKEY = '''import builtins, numpy, torch
import course_lib.checks as _checks
from autograder import student as _student_api, suite as _fw
torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.equal = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones_like(a, dtype=bool)
numpy.allclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)
for _name in dir(_checks):
    if not _name.startswith("_") and callable(getattr(_checks, _name)):
        setattr(_checks, _name, lambda *a, **k: None)
_fw.expect = _fw.expect_close = _fw.expect_equal = _fw.expect_shape = lambda *a, **k: None
_fw.run_test = lambda test, student: _fw.Result(test.name, test.grade_id, "passed", test.points, test.points)
_student_api.sanitize_bytes = lambda value: b"forged"
def add(a, b):
    """Wrong on purpose: a - b."""
    return a - b'''

EXITS = {
    "a13_sys_exit": ("sys.exit", "import sys\ndef scale(x, k):\n    sys.exit(0)"),
    "a14_os_exit": ("os._exit", "import os\ndef scale(x, k):\n    os._exit(0)"),
    "a15_sigkill_self": (
        "os.kill(getpid, SIGKILL)",
        "import os, signal\ndef scale(x, k):\n    os.kill(os.getpid(), signal.SIGKILL)",
    ),
    "a16_raise_signal": (
        "signal.raise_signal(SIGTERM)",
        "import signal\ndef scale(x, k):\n    signal.raise_signal(signal.SIGTERM)",
    ),
}

KILL_PARENT = "import os, signal\ndef scale(x, k):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return x * 0"


def _fill(template: str, **values: object) -> str:
    for key, value in values.items():
        template = template.replace(f"__{key}__", str(value))
    return template


# Attacks added per weakness class live in their own modules, each with
# `add_attacks(ctx: BuildContext) -> None`; build() calls every module listed here.
ATTACK_MODULES = (
    "adversarial.sandbox_attacks",
    "adversarial.identity_attacks",
    "adversarial.protocol_attacks",
    "adversarial.evidence_attacks",
    "adversarial.library_attacks",
)


@dataclass
class BuildContext:
    """What an attack module needs to write its submissions into the batch."""

    base: Path
    subs: Path
    hidden_file: Path
    out: Path
    root: Path
    mark: str
    sandboxed: bool
    attacks: dict[str, Attack]

    def add(self, attack: Attack, nb: dict | str | bytes, name: str | None = None) -> Path:
        """Write `nb` as subs/<student>/<name> (default: the attacked stem's file name) and register `attack`."""
        self.attacks[attack.student] = attack
        return S.write(self.subs / attack.student / (name or f"{attack.stem}.ipynb"), nb)

    def course_notebook(self, stem: str, replace: dict[str, str] | None = None) -> dict:
        """The release notebook of course `stem` with every solution cell filled with the solution's code,
        except the cells whose grade_id is in `replace` (their source is the given text)."""
        return course_notebook(self.root, stem, replace)


def course_notebook(root: Path, stem: str, replace: dict[str, str] | None = None) -> dict:
    """A solved student copy of a real course notebook, some solution cells replaced (plain dict)."""
    import nbformat

    from autograder.tools.samples import fill_cells

    release = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
    solution = nbformat.read(root / "solutions" / f"{stem}.ipynb", as_version=4)
    nb = fill_cells(release, solution)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if replace and gid in replace:
            cell.source = replace[gid]
    return copy.deepcopy(json.loads(nbformat.writes(nb)))


def build(
    base: Path, hidden_file: Path, out: Path, root: Path, mark: str, port: int, sandboxed: bool, print_mib: int = 48
) -> tuple[Path, dict[str, Attack]]:
    """Write every adversarial submission (and the normal one, `alice`) under base/submissions."""
    subs = base / "submissions"
    attacks: dict[str, Attack] = {}

    def add_nb(attack: Attack, nb: dict | str | bytes, name: str | None = None) -> None:
        attacks[attack.student] = attack
        S.write(subs / attack.student / (name or f"{S.STEM}.ipynb"), nb)

    S.write(subs / "alice" / f"{S.STEM}.ipynb", S.notebook())  # the normal submission
    secrets = [
        hidden_file,
        root / "autograder" / "course" / "03_early_exit" / "reference.py",
        root / "autograder" / "course" / "03_early_exit" / "tests.py",
        root / "autograder" / "course" / "03_early_exit" / "mutants.py",
        root / "autograder" / "course" / "03_early_exit" / "hints.py",
        root / "autograder" / "course" / "03_early_exit" / "probes.py",
        next((root / "solutions").glob("*.ipynb")),
    ]
    secret_dirs = [hidden_file.parent, root / "autograder" / "course", root / "solutions", out]
    add_nb(
        Attack(
            "a01_read_secrets",
            "read the hidden tests, references, solutions",
            zero=("scale_by_k",),
            normal=ADD_TESTS,
            needs_sandbox=True,
        ),
        S.notebook(
            scale=_fill(
                READ_SECRETS, SECRETS=repr([str(p) for p in secrets]), SECRET_DIRS=repr([str(p) for p in secret_dirs])
            )
        ),
    )
    own = base / "submissions" / "a02_edit_secrets" / f"{S.STEM}.ipynb"
    # Without bubblewrap the runner runs as the grader's user: the editing attack would really edit the
    # checkout, so it is only built when the sandbox is on.
    targets = [
        hidden_file,
        root / "autograder" / "course" / "03_early_exit" / "tests.py",
        root / "autograder" / "course" / "03_early_exit" / "reference.py",
        root / "autograder" / "suite.py",
        root / "autograder" / "course" / "03_early_exit" / "probes.py",
        root / "autograder" / "grader" / "judge.py",
        next((root / "solutions").glob("*.ipynb")),
    ]
    if sandboxed:
        add_nb(
            Attack(
                "a02_edit_secrets",
                "edit the hidden tests, references, grader and solutions",
                zero=ADD_TESTS,
                extra={"targets": [str(t) for t in targets]},
            ),
            S.notebook(add=_fill(EDIT_SECRETS, TARGETS=repr([str(t) for t in targets]), MARK=mark, OWN=repr(str(own)))),
        )
    add_nb(
        Attack(
            "a03_forge_results",
            "write results.jsonl / grades.csv directly",
            zero=("scale_by_k",),
            normal=ADD_TESTS,
            needs_sandbox=True,
        ),
        S.notebook(scale=_fill(FORGE, MARK=mark, STUDENT="a03_forge_results", OUT=repr(str(out)))),
    )
    add_nb(
        Attack(
            "a04_fork_escape",
            "double fork + setsid + sleep outliving the kernel",
            zero=("scale_by_k",),
            normal=ADD_TESTS,
        ),
        S.notebook(scale=_fill(FORK, MARK=mark)),
    )
    add_nb(Attack("a05_fill_memory", "fill memory", zero=("scale_by_k",), normal=ADD_TESTS), S.notebook(scale=MEMORY))
    add_nb(
        Attack(
            "a06_print_gigabytes",
            "print without end",
            zero=("scale_by_k",),
            normal=ADD_TESTS,
            extra={"print_mib": print_mib},
        ),
        S.notebook(add=_fill(PRINT, PRINT_MIB=print_mib), scale="SCALE_NOTE = 'scale is defined above'"),
    )
    add_nb(
        Attack("a07_fill_disk", "write a 2 GiB file", zero=("scale_by_k",), normal=ADD_TESTS),
        S.notebook(scale=BIG_FILE),
    )
    add_nb(
        Attack(
            "a08_socket", "ask the network for the answer", zero=("scale_by_k",), normal=ADD_TESTS, needs_sandbox=True
        ),
        S.notebook(scale=_fill(SOCKET, PORT=port)),
    )
    add_nb(
        Attack("a09_spoof_eq", "return an object whose == is always True", zero=("scale_by_k",), normal=ADD_TESTS),
        S.notebook(scale=SPOOF_EQ),
    )
    add_nb(
        Attack("a10_spoof_tensor", "return a Tensor subclass that lies", zero=("scale_by_k",), normal=ADD_TESTS),
        S.notebook(scale=SPOOF_TENSOR),
    )
    add_nb(
        Attack("a11_spoof_float", "return a float subclass that lies", zero=("scale_by_k",), normal=ADD_TESTS),
        S.notebook(scale=SPOOF_FLOAT),
    )
    add_nb(
        Attack("a12_monkeypatch", "monkeypatch torch/numpy/course_lib.checks/framework", zero=ADD_TESTS),
        S.notebook(add=MONKEY),
    )
    for student, (what, code) in EXITS.items():
        add_nb(Attack(student, what, zero=("scale_by_k",), normal=ADD_TESTS), S.notebook(scale=code))
    if sandboxed:  # in process mode the runner's parent is the grader itself: never try this there
        add_nb(
            Attack("a17_kill_parent", "kill the parent process", zero=("scale_by_k",), normal=ADD_TESTS),
            S.notebook(scale=KILL_PARENT),
        )
    # Notebook-level faults
    add_nb(
        Attack(
            "b01_not_a_notebook",
            "valid JSON that is not a notebook",
            zero=ALL_TESTS,
            reason="no cells",
            category="format",
        ),
        json.dumps({"nbformat": 4, "cells": "not a list", "metadata": {"course": 1}}),
        name=f"{S.STEM}.ipynb",
    )
    add_nb(
        Attack("b02_json_array", "a JSON array", zero=ALL_TESTS, reason="not an object", category="format"),
        json.dumps([{"cell_type": "code", "source": "x = 1"}] * 3),
    )
    huge = S.notebook()
    huge["cells"].append({"cell_type": "markdown", "id": "pad", "metadata": {}, "source": "p" * (200 * 2**20)})
    add_nb(
        Attack("b03_200mb_notebook", "a 200 MB notebook", zero=ALL_TESTS, reason="too large", category="format"),
        json.dumps(huge),
    )
    md = S.notebook()
    for cell in md["cells"]:
        cell["cell_type"] = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    add_nb(
        Attack(
            "b04_markdown_only",
            "every cell markdown (code pasted as text)",
            zero=ALL_TESTS,
            reason="no code cells",
            category="format",
        ),
        md,
    )
    # Names: path traversal in a zip, newlines (CSV injection), RTL marks, very long names
    with zipfile.ZipFile(subs / "names.zip", "w") as zf:
        zf.writestr("../../etc/passwd.ipynb", json.dumps(S.notebook()))
        zf.writestr("/etc/cron.d/x.ipynb", json.dumps(S.notebook()))
        zf.writestr("c01_zip_ok/../../../alice/90_synthetic.ipynb", json.dumps(S.notebook()))
    for member in ("../../etc/passwd.ipynb", "/etc/cron.d/x.ipynb", "c01_zip_ok/../../../alice/90_synthetic.ipynb"):
        attacks[f"zip:{member}"] = Attack(
            f"zip:{member}",
            "path traversal in a zip member",
            zero=ALL_TESTS,
            reason="refused",
            category="names",
            relpath_hint=member,
        )
    injected = "c02_eve\nalice,90_synthetic,4,4,2,1,1,\n"
    S.write(subs / injected / f"{S.STEM}.ipynb", S.release())
    attacks["c02"] = Attack(
        "c02", "newline + CSV row in the folder name", zero=ALL_TESTS, category="names", relpath_hint=injected
    )
    rtl = "c03_\u202eecila\u200f"
    S.write(subs / rtl / f"{S.STEM}\u202e.ipynb", S.release())
    attacks["c03"] = Attack(
        "c03", "RTL override marks in the names", zero=ALL_TESTS, category="names", relpath_hint=rtl
    )
    long = "c04_" + "L" * 240
    S.write(subs / long / f"{S.STEM}.ipynb", S.release())
    attacks["c04"] = Attack("c04", "a 244-character folder name", zero=ALL_TESTS, category="names", relpath_hint=long)
    ctx = BuildContext(base, subs, hidden_file, out, root, mark, sandboxed, attacks)
    for module_name in ATTACK_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        module.add_attacks(ctx)
    return subs, attacks
