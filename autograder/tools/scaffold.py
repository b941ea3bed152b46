"""`python -m autograder new NN_topic`: a new notebook, born in the course's layout.

It copies autograder/course/_template/ into

  solutions/<stem>.ipynb          the instructor source, in the course's frame, with one example exercise
  autograder/course/<stem>/       tests.py, mutants.py, hints.py for that exercise

and then runs the release, which writes everything else: the setup cell and Colab badge, the student copy
notebooks/<stem>.ipynb, the reference implementations (course/<stem>/reference.py, from the solution cells) and the
README and self-study tables (from the notebook's metadata). The result grades to full marks (solution) and 0
(student copy) and passes `release --check` with no other edit; replace the example exercise with yours.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from autograder.tools.release import ROOT, STEM_RE

__all__ = ["TEMPLATE_FILES", "ScaffoldError", "new_notebook", "main"]

TEMPLATE_FILES = ("tests.py", "mutants.py", "hints.py")


class ScaffoldError(Exception):
    """The notebook cannot be created (message says why and what to do)."""


def _title_from(stem: str) -> str:
    return stem[3:].replace("_", " ").capitalize()


def _fill(text: str, stem: str, title: str, summary: str) -> str:
    return (
        text.replace("__STEM__", stem)
        .replace("__NUMBER__", stem[:2])
        .replace("__TITLE__", title)
        .replace("__SUMMARY__", summary)
    )


def new_notebook(stem: str, root: Path = ROOT, title: str | None = None, summary: str | None = None) -> list[Path]:
    """Create the solution notebook and grading folder of `stem` under `root`; return the files written."""
    if not STEM_RE.match(stem):
        raise ScaffoldError(
            f"{stem!r} is not a notebook stem: use two digits, an underscore and a lower-case topic, "
            f"e.g. 06_transformer_exits"
        )
    root = Path(root)
    solution = root / "solutions" / f"{stem}.ipynb"
    folder = root / "autograder" / "course" / stem
    taken = [p for p in (solution, folder) if p.exists()]
    if taken:
        raise ScaffoldError(
            f"{stem} already exists ({', '.join(str(p) for p in taken)}); pick another stem or delete those files first"
        )
    clash = [p.stem for p in (root / "solutions").glob(f"{stem[:2]}_*.ipynb")]
    if clash:
        raise ScaffoldError(f"number {stem[:2]} is already used by {', '.join(clash)}; notebooks are numbered in order")
    template = root / "autograder" / "course" / "_template"
    if not template.is_dir():
        raise ScaffoldError(f"the template folder {template} is missing; restore it from the repository")
    title = title or _title_from(stem)
    summary = summary or f"{title}: one line on what this notebook teaches."
    if re.search(r"[\"\\\n]", title + summary):
        raise ScaffoldError("title and summary must be one line without quotes or backslashes")
    folder.mkdir(parents=True)
    written = []
    for name in TEMPLATE_FILES:
        target = folder / name
        target.write_text(_fill((template / name).read_text(encoding="utf-8"), stem, title, summary), encoding="utf-8")
        written.append(target)
    solution.parent.mkdir(parents=True, exist_ok=True)
    solution.write_text(
        _fill((template / "solution.ipynb").read_text(encoding="utf-8"), stem, title, summary), encoding="utf-8"
    )
    written.append(solution)
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder new NN_topic [--title T] [--summary S] [--no-release]`."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder new", description="Scaffold a new notebook: solution source and grading folder."
    )
    parser.add_argument("stem", help="NN_topic, e.g. 06_transformer_exits")
    parser.add_argument("--title", help="the notebook's title (default: from the stem)")
    parser.add_argument("--summary", help="one line for the README and self-study tables")
    parser.add_argument("--no-release", action="store_true", help="only copy the template; do not run the release")
    args = parser.parse_args(argv)
    try:
        written = new_notebook(args.stem, ROOT, args.title, args.summary)
    except ScaffoldError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    if not args.no_release:
        from autograder.tools import release

        code = release.main([])
        if code:
            return code
    print(
        f"next: write the exercises in solutions/{args.stem}.ipynb and their tests, mutants and hints in "
        f"autograder/course/{args.stem}/; `python -m autograder release` regenerates the rest "
        f'(checklist: docs/AUTHORING.md, "Adding a notebook")'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
