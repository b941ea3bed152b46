"""`python -m autograder start [DIR]`: the learner's own copy of the student notebooks, in a folder release never touches.

`python -m autograder release` regenerates notebooks/ from solutions/, so a learner who works in notebooks/ works in
a file the course may rewrite (the release refuses when it would lose work, but the file is still not theirs).
`start` copies notebooks/<stem>.ipynb, as it is, into DIR (default work/ at the repository root, ignored by git) and
never overwrites a notebook already there: running it again after an update only adds the notebooks that are new.

The copies run from DIR unchanged: the setup cell imports the installed course package, and course_lib finds the
data, the checkpoint cache and the run records from its own location, not from the notebook's folder; the
self-check reads the notebook's name from the setup cell, not from the file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROOT", "DEFAULT_DIR", "CopyReport", "student_stems", "copy_notebooks", "open_command", "main"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "work"


@dataclass
class CopyReport:
    """What `copy_notebooks` did: the notebooks it copied and the ones it kept (already in the folder)."""

    folder: Path
    copied: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def student_stems(root: Path = ROOT) -> list[str]:
    """Stems of the released student notebooks, notebooks/NN_topic.ipynb, sorted."""
    from autograder.tools.release import STEM_RE

    return sorted(p.stem for p in (Path(root) / "notebooks").glob("*.ipynb") if STEM_RE.match(p.stem))


def copy_notebooks(folder: Path = DEFAULT_DIR, stems: list[str] | None = None, root: Path = ROOT) -> CopyReport:
    """Copy notebooks/<stem>.ipynb into `folder` for each stem (default: all), never overwriting a file there.

    Raises ValueError naming any stem that has no student notebook.
    """
    available = student_stems(root)
    wanted = list(stems) if stems else available
    unknown = [stem for stem in wanted if stem not in available]
    if unknown:
        raise ValueError(f"no student notebook for {unknown}: choose from {available}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = CopyReport(folder=folder)
    for stem in wanted:
        target = folder / f"{stem}.ipynb"
        try:
            with target.open("xb") as out:  # "x": fails instead of overwriting, even against a concurrent writer
                out.write((Path(root) / "notebooks" / f"{stem}.ipynb").read_bytes())
        except FileExistsError:
            report.kept.append(target)
            continue
        shutil.copymode(Path(root) / "notebooks" / f"{stem}.ipynb", target)
        report.copied.append(target)
    return report


def _shown(path: Path) -> str:
    """`path` relative to the current directory when it lies below it, else absolute."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)


def open_command(folder: Path) -> str:
    """The command that opens `folder` in JupyterLab with this environment's Jupyter (plain `jupyter` without one)."""
    jupyter = Path(sys.executable).parent / "jupyter"
    program = _shown(jupyter) if jupyter.exists() else "jupyter"
    return f"{program} lab {_shown(folder)}{os.sep}"


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder start [DIR] [--stems ...]`."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder start",
        description="Copy the student notebooks into your own work folder (default work/), which release never "
        "touches and git ignores; a notebook already there is never overwritten.",
    )
    parser.add_argument(
        "folder", nargs="?", type=Path, default=DEFAULT_DIR, metavar="DIR", help="where to copy them (default work/)"
    )
    parser.add_argument("--stems", nargs="+", help="only these notebooks, e.g. 00_orientation (default: all)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        report = copy_notebooks(args.folder, args.stems, args.root)
    except ValueError as err:
        print(f"start FAILED: {err}", file=sys.stderr)
        return 2
    for path in report.copied:
        print(f"copied  {_shown(path)}")
    for path in report.kept:
        print(f"kept    {_shown(path)} (already there, with your work: never overwritten)")
    print(
        f"{len(report.copied)} copied, {len(report.kept)} kept. Work in these copies; notebooks/ is the course's "
        f"release, which `python -m autograder release` regenerates.\nOpen them: {open_command(report.folder)}"
    )
    return 0
