"""Build a stock nbgrader course directory from this repository.

    python -m autograder nbgrader-course DIR [--stems 00_orientation ...] [--force]

DIR/source/<stem>/<stem>.ipynb   one assignment per notebook stem (copied from solutions/)
DIR/nbgrader_config.py           autograder/tools/nbgrader_config.py (course id, gradebook, timeouts, ...)
DIR/README.txt                   the nbgrader commands to run next

The hidden-test blocks import `autograder` from the installed course package, so the kernel that
nbgrader starts must see the course's environment (run nbgrader with the venv on PATH).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from autograder.tools.release import ROOT, ReleaseError, read_notebook, solution_stems, validate_source

__all__ = ["build_course", "nbgrader_env", "main"]

CONFIG_TEMPLATE = Path(__file__).resolve().parent / "nbgrader_config.py"

README = """Stock nbgrader course built from the dynamic-inference course kit.
Run from this folder with the course's virtual environment on PATH (nbgrader calls `alembic`):

  nbgrader generate_assignment {stem} --force
  mkdir -p submitted/<student>/{stem} && cp <their notebook> submitted/<student>/{stem}/{stem}.ipynb
  nbgrader autograde {stem} --force
  nbgrader generate_feedback {stem} --force
  nbgrader export            # -> grades.csv

autograde warns "Attribute 'checksum' for cell ... has changed!" only when a student edited a test
cell (the recorded cell is graded instead); an unedited cell that nbgrader released without its
hidden tests is restored silently (nbgrader_config.py, OverwriteCellsKeepingHiddenTests).

Assignments: {stems}
"""


def nbgrader_env(base: dict | None = None) -> dict:
    """A copy of the environment with the running interpreter's bin folder first on PATH (for alembic)."""
    import os
    import sys

    env = dict(os.environ if base is None else base)
    bin_dir = str(Path(sys.executable).parent)
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    env["PATH"] = os.pathsep.join([bin_dir, *parts])
    return env


def build_course(
    dest: Path | str, stems: Iterable[str] | None = None, root: Path = ROOT, force: bool = False, validate: bool = True
) -> Path:
    """Write the nbgrader course folder `dest` and return it.

    Refuses to write into a non-empty folder that is not an earlier build unless `force`.
    """
    dest = Path(dest).resolve()
    root = Path(root)
    stems = list(stems) if stems is not None else solution_stems(root)
    if not stems:
        raise ReleaseError(f"no solution notebooks in {root / 'solutions'}")
    unknown = [s for s in stems if not (root / "solutions" / f"{s}.ipynb").exists()]
    if unknown:
        raise ReleaseError(
            f"no solutions/<stem>.ipynb for: {', '.join(unknown)} (known: {', '.join(solution_stems(root)) or 'none'})"
        )
    if dest.exists() and any(dest.iterdir()) and not (dest / "nbgrader_config.py").exists() and not force:
        raise ReleaseError(f"{dest} is not empty and not an nbgrader course; choose another folder or --force")
    if validate:
        problems = []
        for stem in stems:
            problems += validate_source(read_notebook(root / "solutions" / f"{stem}.ipynb"), stem)
        if problems:
            raise ReleaseError("invalid solution sources:\n  " + "\n  ".join(problems))
    dest.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        folder = dest / "source" / stem
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "solutions" / f"{stem}.ipynb", folder / f"{stem}.ipynb")
    shutil.copyfile(CONFIG_TEMPLATE, dest / "nbgrader_config.py")
    (dest / "README.txt").write_text(README.format(stem=stems[0], stems=", ".join(stems)), encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder nbgrader-course DIR`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autograder nbgrader-course", description="Build a stock nbgrader course folder from solutions/."
    )
    parser.add_argument("dir", type=Path, help="course folder to create")
    parser.add_argument("--stems", nargs="+", help="assignments to include (default: every solution notebook)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    args = parser.parse_args(argv)
    try:
        dest = build_course(args.dir, args.stems, force=args.force)
    except (ReleaseError, FileNotFoundError) as err:
        print(f"nbgrader-course FAILED: {err}")
        return 1
    print(f"nbgrader course written to {dest}")
    print((dest / "README.txt").read_text(encoding="utf-8"))
    return 0
