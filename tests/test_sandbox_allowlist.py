"""The grader's sandbox is an allow-list (issue 17, class 1): other copies of the course stay unreadable.

The end-to-end test builds a git repository around a copy of the course package (course A: the
grader runs from it), a second copy of the course elsewhere on disk (course B) and a site-packages
style copy on PYTHONPATH (what a non-editable install leaves), all outside /tmp and $HOME (which
the old deny-list sandbox already hid): in a gitignored folder of this repository (build/), removed
afterwards. A notebook of the synthetic stem answers each exercise only when it can read one of
them; graded from course A, every such exercise must fail with "No such file". The unit tests check
the bwrap argv and the refusal to fall back to process isolation silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import grading_fixtures as S
from autograder.grader import cli
from autograder.grader import sandbox as sbx

ROOT = Path(__file__).resolve().parent.parent


def _bwrap_or_skip() -> None:
    try:
        isolation, _ = sbx.choose_isolation("bubblewrap")
    except RuntimeError as err:  # SandboxUnavailable
        pytest.skip(f"bubblewrap does not work on this machine: {err}")
    assert isolation == "bubblewrap"


def _readable(path: Path) -> None:
    """World-readable folders (the runner reads as uid 65534)."""
    for p in [path, *path.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)


READS = '''import os
def _read(path):
    """The bytes at `path` (a folder: its first file), or an error naming what was seen."""
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        if not names:
            raise FileNotFoundError("empty folder (masked): " + path)
        return _read(os.path.join(path, names[0]))
    with open(path, "rb") as fh:
        return fh.read()
'''

ADD = (
    READS
    + '''
def add(a, b):
    """Answers only when the checkout's .git (HEAD and an object) is readable."""
    _read(__HEAD__)
    _read(__OBJECTS__)
    return a + b'''
)

SCALE = (
    READS
    + '''
def scale(x, k):
    """Executes the reference found in a second copy of the course."""
    ns = {}
    exec(_read(__CLONE__).decode(), ns)
    return ns["scale"](x, k)'''
)

MODEL = (
    READS
    + '''
import torch
def build_model(width):
    """Answers only when the course's hidden tests inside a site-packages copy are readable."""
    if b"SUITE" not in _read(__SITE__):
        raise RuntimeError("no suite")
    return torch.nn.Sequential(torch.nn.Linear(width, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))'''
)

REFERENCE = "def add(a, b):\n    return a + b\n\n\ndef scale(x, k):\n    return x * k\n"


def _course_copy(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("autograder", "course_lib"):
        shutil.copytree(ROOT / part, dest / part, ignore=ignore)
    hidden = dest / "autograder" / "course" / S.STEM
    hidden.mkdir(parents=True, exist_ok=True)
    (hidden / "reference.py").write_text(REFERENCE)
    (hidden / "tests.py").write_text(S.SUITE_SOURCE)


@pytest.fixture
def place() -> Path:
    """A fresh folder outside /tmp and $HOME, visible to the old sandbox: build/ of this repository.

    $SANDBOX_ALLOWLIST_PLACE chooses another parent (to run this test in a checkout that lives in /tmp)."""
    parent = Path(os.environ.get("SANDBOX_ALLOWLIST_PLACE") or ROOT / "build")
    path = parent / f"sandbox-allowlist-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_other_copies_of_the_course_are_unreadable(place: Path, tmp_path: Path) -> None:
    _bwrap_or_skip()
    course_a, course_b, site = place / "course-a", place / "elsewhere" / "course-b", place / "site-packages"
    _course_copy(course_a)
    _course_copy(course_b)
    (site / "autograder" / "course" / S.STEM).mkdir(parents=True)
    (site / "autograder" / "course" / S.STEM / "tests.py").write_text(S.SUITE_SOURCE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(course_a)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "course"], check=True)
    _readable(place)
    paths = {
        "HEAD": course_a / ".git" / "HEAD",
        "OBJECTS": course_a / ".git" / "objects",
        "CLONE": course_b / "autograder" / "course" / S.STEM / "reference.py",
        "SITE": site / "autograder" / "course" / S.STEM / "tests.py",
    }
    for p in paths.values():
        assert p.exists(), p

    def fill(src: str) -> str:
        for key, value in paths.items():
            src = src.replace(f"__{key}__", repr(str(value)))
        return src

    subs, hidden, release, out = (tmp_path / n for n in ("subs", "hidden", "release", "out"))
    S.write(subs / "mallory" / f"{S.STEM}.ipynb", S.notebook(add=fill(ADD), scale=fill(SCALE), model=fill(MODEL)))
    S.write(subs / "alice" / f"{S.STEM}.ipynb", S.notebook())
    hidden.mkdir()
    (hidden / f"{S.STEM}.py").write_text(S.SUITE_SOURCE)
    S.write(release / f"{S.STEM}.ipynb", S.release())
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR")}
    env.update(PYTHONPATH=f"{course_a}{os.pathsep}{site}", TQDM_DISABLE="1")
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--quiet"]
    cmd += ["--hidden-dir", str(hidden), "--release-dir", str(release), "--test-timeout", "30", "--workers", "2"]
    proc = subprocess.run(cmd, cwd=course_a, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = {r["student"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert records["alice"]["points"] == 4, records["alice"]["tests"]
    assert records["mallory"]["isolation"] == "bubblewrap"
    tests = {t["test"]: t for t in records["mallory"]["tests"]}
    seen = {name: (t["state"], t.get("message", "")[-300:]) for name, t in tests.items()}
    for name in ("add_tensors", "add_broadcast", "scale_by_k", "model_has_two_linear"):
        assert tests[name]["state"] != "passed", f"{name} could read another copy of the course: {seen}"
        assert "No such file" in tests[name].get("message", "") or "masked" in tests[name].get("message", ""), seen


# ---------------------------------------------------------------------------------------------
# The bwrap argv (no process started)


def _pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv[:-2]) if a == flag]


@pytest.fixture
def argv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    monkeypatch.setattr(sbx, "bwrap_path", lambda: "/usr/bin/bwrap")
    site = tmp_path / "site-packages"
    (site / "autograder" / "course" / "00_orientation").mkdir(parents=True)
    (site / "solutions").mkdir()
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{site}")
    work = tmp_path / "work"
    work.mkdir()
    cfg = sbx.SandboxConfig(masks=(str(ROOT / "tests"), str(site / "solutions")))
    return sbx.bwrap_command(["python", "-m", "autograder.grader.runner"], work, cfg, privileged=True)


def test_argv_is_an_allow_list(argv: list[str], tmp_path: Path) -> None:
    binds = _pairs(argv, "--ro-bind")
    assert ("/", "/") not in binds and ("/", "/") not in _pairs(argv, "--bind")
    sources = {src for src, _ in binds}
    for absent in (ROOT, ROOT / ".git", ROOT / "solutions", ROOT / "tests", Path.home(), Path("/work"), Path("/srv")):
        assert str(absent) not in sources, f"{absent} is bound: {argv}"
    for src in sources - {"/dev/null"}:
        assert Path(src).resolve() not in (ROOT.resolve(), *ROOT.resolve().parents), f"{src} holds the checkout"
    assert (str(ROOT / "autograder"), str(ROOT / "autograder")) in binds
    assert (str(ROOT / "course_lib"), str(ROOT / "course_lib")) in binds
    assert ("/usr", "/usr") in binds
    tmpfs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--tmpfs"]
    site = tmp_path / "site-packages"
    for hidden in (ROOT / "autograder" / "course", site / "autograder" / "course", site / "solutions"):
        assert str(hidden) in tmpfs, f"{hidden} is not masked: {argv}"
    assert "/tmp" in tmpfs
    if os.path.exists("/etc/shadow"):
        assert ("/dev/null", "/etc/shadow") in binds
    work = str((tmp_path / "work").resolve())
    assert _pairs(argv, "--bind") == [(work, work)]
    assert argv[argv.index("--") + 1 :] == ["python", "-m", "autograder.grader.runner"]


def test_masks_come_after_the_binds_they_cover(argv: list[str]) -> None:
    course = str(ROOT / "autograder" / "course")
    bind_at = argv.index(str(ROOT / "autograder"))
    mask_at = next(i for i, a in enumerate(argv) if a == course and argv[i - 1] == "--tmpfs")
    assert bind_at < mask_at


# ---------------------------------------------------------------------------------------------
# No silent fallback to process isolation


def test_grade_refuses_without_bubblewrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(sbx, "bwrap_path", lambda: None)
    with pytest.raises(sbx.SandboxUnavailable):
        sbx.choose_isolation("auto")
    subs = tmp_path / "subs"
    S.write(subs / "alice" / f"{S.STEM}.ipynb", S.notebook())
    code = cli.main([str(subs), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "scripts/install_sandbox.sh" in err and "--sandbox process" in err, err
    assert "hidden tests" in err and "other submissions" in err, err
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_process_mode_is_explicit_and_noted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sbx, "bwrap_path", lambda: None)
    subs, hidden, out = tmp_path / "subs", tmp_path / "hidden", tmp_path / "out"
    S.write(subs / "alice" / f"{S.STEM}.ipynb", S.notebook())
    hidden.mkdir()
    (hidden / f"{S.STEM}.py").write_text(S.SUITE_SOURCE)
    code = cli.main([str(subs), "--out", str(out), "--hidden-dir", str(hidden), "--sandbox", "process", "--quiet"])
    assert code == 0
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["isolation"] == "process"
    assert any("--sandbox process" in r for r in record["reasons"]), record["reasons"]
    assert record["points"] == 4
