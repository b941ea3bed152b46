"""Finding and loading hidden suites, including extra directories (tests, other courses).

Directories searched, first match wins: every `--hidden-dir`, then every entry of the
AUTOGRADER_HIDDEN_DIR environment variable (os.pathsep-separated), then autograder/hidden/.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path
from typing import Iterable

from autograder import framework
from autograder.framework import Suite

__all__ = ["HIDDEN_ENV_VAR", "hidden_dirs", "find_suites", "load_suite"]

HIDDEN_ENV_VAR = "AUTOGRADER_HIDDEN_DIR"
_STEM = re.compile(r"^\d\d_[A-Za-z0-9_]+$")
_lock = threading.Lock()


def hidden_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Directories searched for `<stem>.py` suites, in priority order."""
    dirs = [Path(d) for d in extra]
    env = os.environ.get(HIDDEN_ENV_VAR, "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d.strip()]
    dirs.append(framework.HIDDEN_DIR)
    return [d.resolve() for d in dirs]


def find_suites(extra: Iterable[str | Path] = ()) -> dict[str, Path]:
    """Map every available stem to the file defining its suite."""
    found: dict[str, Path] = {}
    for directory in hidden_dirs(extra):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.py")):
            if _STEM.match(path.stem) and path.stem not in found:
                found[path.stem] = path
    return found


def load_suite(stem: str, path: Path) -> Suite:
    """Import a suite file by path (thread-safe; one module per file)."""
    path = Path(path).resolve()
    if path.parent == framework.HIDDEN_DIR.resolve():
        with _lock:
            return framework.load_suite(stem)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"autograder_extra_hidden_{digest}._nb_{stem}"
    with _lock:
        if name in sys.modules:
            return sys.modules[name].SUITE
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import hidden suite {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    suite = getattr(module, "SUITE", None)
    if not isinstance(suite, Suite):
        raise TypeError(f"{path} must define SUITE = Suite({stem!r})")
    return suite
