"""`python -m autograder new`: a scaffolded notebook releases, grades and passes `release --check` with no other edit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.tools.release import ROOT
from autograder.tools.scaffold import ScaffoldError, new_notebook

STEM = "99_demo"


def _copy_repository(target: Path) -> Path:
    """The repository's tracked and untracked-but-not-ignored files, copied into `target` (no .git, no venvs)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    archive = target.parent / "repo.tar"  # extracted with the files' own modes (readable by the runner's user)
    with tarfile.open(archive, "w") as tar:
        for rel in listed:
            if (ROOT / rel).is_file() and not rel.startswith((".venv", "build/", "runs/")):
                tar.add(ROOT / rel, arcname=rel)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="tar")
    return target


def _run(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def scaffolded() -> Iterator[Path]:
    # Not under pytest's tmp folder: that is private to this user (0700), and the grader's sandboxed runner drops
    # to an unprivileged user that must be able to read the course package it imports.
    folder = Path(tempfile.mkdtemp(prefix="scaffold-"))
    folder.chmod(0o755)
    root = folder / "course"
    root.mkdir()
    root.chmod(0o755)
    try:
        _copy_repository(root)
        made = _run(root, "-m", "autograder", "new", STEM, "--title", "A demo notebook")
        assert made.returncode == 0, made.stdout + made.stderr
        yield root
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_new_notebook_passes_the_release_check_with_no_other_edit(scaffolded: Path) -> None:
    for rel in (
        f"solutions/{STEM}.ipynb",
        f"notebooks/{STEM}.ipynb",
        f"autograder/course/{STEM}/tests.py",
        f"autograder/course/{STEM}/mutants.py",
        f"autograder/course/{STEM}/hints.py",
        f"autograder/course/{STEM}/reference.py",
    ):
        assert (scaffolded / rel).is_file(), f"{rel} was not written"
    check = _run(scaffolded, "-m", "autograder", "release", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    student_copy = (scaffolded / "notebooks" / f"{STEM}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in student_copy and "raise NotImplementedError()" in student_copy


@pytest.mark.slow
def test_new_notebook_grades_full_marks_for_the_solution_and_zero_for_the_student_copy(scaffolded: Path) -> None:
    subs = scaffolded / "subs"
    for student, folder in (("solution", "solutions"), ("untouched", "notebooks")):
        (subs / student).mkdir(parents=True)
        (subs / student / f"{STEM}.ipynb").write_bytes((scaffolded / folder / f"{STEM}.ipynb").read_bytes())
    graded = _run(
        scaffolded,
        "-m",
        "autograder",
        "grade",
        str(subs),
        "--out",
        str(scaffolded / "out"),
        "--release-dir",
        str(scaffolded / "notebooks"),
        "--workers",
        "2",
        "--quiet",
    )
    assert graded.returncode == 0, graded.stdout + graded.stderr
    records = {}
    for line in (scaffolded / "out" / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["student"]] = record
    solution, untouched = records["solution"], records["untouched"]
    assert solution["points"] == solution["max_points"] > 0, solution["tests"]
    assert untouched["points"] == 0 and {t["state"] for t in untouched["tests"]} == {"not attempted"}


@pytest.mark.slow
def test_new_notebook_hidden_tests_catch_their_mutants(scaffolded: Path) -> None:
    script = (
        "from autograder import content\n"
        "from autograder.suite import check_mutant, check_reference\n"
        f"assert {{r.state for r in check_reference({STEM!r})}} == {{'passed'}}\n"
        f"for m in content.load({STEM!r}, 'mutants').MUTANTS:\n"
        f"    states = {{r.state for r in check_mutant({STEM!r}, m).values()}}\n"
        "    assert 'passed' not in states, m.description\n"
        "print('ok')\n"
    )
    ran = _run(scaffolded, "-c", script)
    assert ran.returncode == 0 and "ok" in ran.stdout, ran.stdout + ran.stderr


def test_new_refuses_a_bad_or_taken_stem(tmp_path: Path) -> None:
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "03_early_exit.ipynb").write_text("{}")
    for stem, why in (
        ("6_topic", "two digits"),
        ("06-Topic", "two digits"),
        ("03_other", "already used by"),
        ("03_early_exit", "already exists"),
    ):
        with pytest.raises(ScaffoldError, match=why):
            new_notebook(stem, tmp_path)
    with pytest.raises(ScaffoldError, match="template folder"):
        new_notebook("07_new_topic", tmp_path)
