"""Class 1 of issue 17: the sandbox hid a deny-list, not everything else.

Two stub notebooks of the synthetic stem whose `scale` answers only when the runner can read a copy of
the course that the old sandbox left visible:

- s1_second_clone: another clone of the course on the same disk (here a gitignored folder under the
  repository root, visible to the old sandbox because it re-bound the whole repository), with that
  stem's reference and hidden tests in it; the stub executes the reference's `scale` and returns its
  answer.
- s2_git_objects: the checkout's version-control metadata: `.git/HEAD` (for a worktree, the repository
  its `.git` file points to) and, through git itself, the committed reference of a real course
  notebook. The stub answers only when both are readable.

Both are stopped only by the allow-list sandbox (needs_sandbox=True): under process isolation they
would score, and the adversarial test says so instead of checking them.
"""

from __future__ import annotations

import atexit
import shutil
import time
import uuid

import grading_fixtures as S
from adversarial.submissions import ADD_TESTS, Attack, BuildContext, _fill

SECOND_CLONE = '''import os
CLONE = __CLONE__
def scale(x, k):
    """Executes the reference from another copy of the course on the disk."""
    path = os.path.join(CLONE, "autograder", "course", "90_synthetic", "reference.py")
    with open(path, encoding="utf-8") as fh:
        namespace = {}
        exec(compile(fh.read(), path, "exec"), namespace)
    hidden = os.path.join(CLONE, "autograder", "course", "90_synthetic", "tests.py")
    if "SUITE" not in open(hidden, encoding="utf-8").read():
        raise RuntimeError("no hidden suite in the clone")
    return namespace["scale"](x, k)'''

GIT_OBJECTS = '''import os, subprocess
ROOT = __ROOT__
def scale(x, k):
    """Answers only when the checkout's .git (HEAD, objects) is readable."""
    git_dir = os.path.join(ROOT, ".git")
    if os.path.isfile(git_dir):  # a worktree: follow gitdir: and commondir to the repository's metadata
        git_dir = open(git_dir, encoding="utf-8").read().split("gitdir:", 1)[1].strip()
        common = os.path.join(git_dir, "commondir")
        if os.path.exists(common):
            git_dir = os.path.normpath(os.path.join(git_dir, open(common, encoding="utf-8").read().strip()))
    head = open(os.path.join(git_dir, "HEAD"), encoding="utf-8").read()
    config = os.path.join(os.getcwd(), "gitconfig")
    with open(config, "w") as fh:
        fh.write("[safe]\\n\\tdirectory = *\\n")
    env = dict(os.environ, GIT_CONFIG_GLOBAL=config, GIT_CONFIG_NOSYSTEM="1")
    shown = subprocess.run(
        ["git", "--git-dir", git_dir, "show", "HEAD:autograder/course/00_orientation/reference.py"],
        capture_output=True, text=True, env=env, timeout=30,
    )
    if not head.strip() or "def " not in shown.stdout:
        raise RuntimeError("git metadata unreadable: " + shown.stderr[-200:])
    return x * k'''


def _reference_source() -> str:
    """The synthetic stem's reference module, as `release` would generate it from the solutions."""
    parts = []
    for cell in (S.ADD, S.SCALE):
        head, rest = cell.split("    ### BEGIN SOLUTION\n")
        body, tail = rest.split("    ### END SOLUTION")
        parts.append(head + body + tail)
    return "import torch\n\n\n" + "\n\n\n".join(parts) + "\n"


def add_attacks(ctx: BuildContext) -> None:
    # A second clone of the course, outside /tmp and $HOME (which the old sandbox already hid): a
    # gitignored folder of the repository (build/), removed when the test process ends.
    for stale in (ctx.root / "build").glob("adv-clone-*"):  # left by a killed run (atexit did not run)
        if time.time() - stale.stat().st_mtime > 2 * 3600:
            shutil.rmtree(stale, ignore_errors=True)
    clone = ctx.root / "build" / f"adv-clone-{uuid.uuid4().hex[:12]}"  # not the mark: it shows in messages
    course = clone / "autograder" / "course" / S.STEM
    course.mkdir(parents=True, exist_ok=True)
    atexit.register(shutil.rmtree, clone, True)
    for folder in (clone, clone / "autograder", clone / "autograder" / "course", course):
        folder.chmod(0o755)  # readable by the runner's unprivileged uid, like any clone
    (course / "reference.py").write_text(_reference_source(), encoding="utf-8")
    (course / "tests.py").write_text(S.SUITE_SOURCE, encoding="utf-8")
    for path in course.iterdir():
        path.chmod(0o644)
    ctx.add(
        Attack(
            "s1_second_clone",
            "execute the reference from a second clone of the course on the disk",
            zero=("scale_by_k",),
            normal=ADD_TESTS,
            needs_sandbox=True,
            klass=1,
            extra={"clone": str(clone)},
        ),
        S.notebook(scale=_fill(SECOND_CLONE, CLONE=repr(str(clone)))),
    )
    if (ctx.root / ".git").exists():
        ctx.add(
            Attack(
                "s2_git_objects",
                "read the committed reference through the checkout's .git",
                zero=("scale_by_k",),
                normal=ADD_TESTS,
                needs_sandbox=True,
                klass=1,
            ),
            S.notebook(scale=_fill(GIT_OBJECTS, ROOT=repr(str(ctx.root)))),
        )
