"""Finding and loading hidden suites, including extra directories (tests, other courses).

Directories searched, first match wins: every `--hidden-dir`, then every entry of the
AUTOGRADER_HIDDEN_DIR environment variable (os.pathsep-separated), then the course's own
autograder/course/. In a directory a suite is either `<stem>/tests.py` (the course layout) or a
single file `<stem>.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from autograder import content
from autograder.suite import Suite, suite_of

__all__ = ["HIDDEN_ENV_VAR", "hidden_dirs", "find_suites", "load_suite"]

HIDDEN_ENV_VAR = "AUTOGRADER_HIDDEN_DIR"


def hidden_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Directories searched for suites, in priority order."""
    dirs = [Path(d) for d in extra]
    env = os.environ.get(HIDDEN_ENV_VAR, "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d.strip()]
    dirs.append(content.COURSE_DIR)
    return [d.resolve() for d in dirs]


def find_suites(extra: Iterable[str | Path] = ()) -> dict[str, Path]:
    """Map every available stem to the file defining its suite."""
    found: dict[str, Path] = {}
    for directory in hidden_dirs(extra):
        if not directory.is_dir():
            continue
        candidates = [(p.parent.name, p) for p in directory.glob("*/tests.py")]
        candidates += [(p.stem, p) for p in directory.glob("*.py")]
        for stem, path in sorted(candidates):
            if content.STEM_PATTERN.match(stem) and stem not in found:
                found[stem] = path
    return found


def load_suite(stem: str, path: Path) -> Suite:
    """Import a suite file by path (thread-safe; one module per file)."""
    path = Path(path).resolve()
    if path == content.path_of(stem, "tests").resolve():
        return suite_of(content.load(stem, "tests"), stem)
    return suite_of(content.load_file(path), stem)
