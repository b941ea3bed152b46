"""A runner restarted in a work folder the student's code wrote to runs none of that code before it is ready.

The judge restarts a runner in the same work folder after a death or a timeout. Files a student's cell wrote
there must not be imported at start-up, before the runner has applied its limits and dropped its privileges:
a module shadowing one the runner imports (`uuid.py`, `json.py` in the current folder, which `python -m` puts
first on sys.path) or a `.pth` file in the user site folder ($HOME is the work folder).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from autograder.grader.judge import GradeOptions, RunnerDied, RunnerTimeout, launch_runner
from autograder.grader.sandbox import SandboxConfig

PLANTED = "import os\nopen(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'RAN'), 'w').write('{name}')\nos._exit(7)\n"


@pytest.mark.parametrize("place", ["shadow_module", "user_site_pth"])
def test_planted_files_do_not_run_at_runner_start(tmp_path: Path, place: str, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if place == "shadow_module":
        for name in ("uuid", "json", "pickle", "select"):
            (work / f"{name}.py").write_text(PLANTED.format(name=name))
        marker_dir = work
    else:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        site = work / ".local" / "lib" / version / "site-packages"
        site.mkdir(parents=True)
        (site / "planted.py").write_text(PLANTED.format(name="pth"))
        (site / "planted.pth").write_text("import planted\n")
        marker_dir = site
    python = sys.executable
    if place == "user_site_pth":  # a venv disables the user site; the base interpreter (outside a venv) has it
        python = _interpreter_with_user_site(tmp_path / "probe-home")
        if python != sys.executable:  # the base interpreter finds torch and the course through PYTHONPATH
            monkeypatch.setenv("PYTHONPATH", sysconfig.get_paths()["purelib"])
    runner = launch_runner(work, GradeOptions(python=python, sandbox=SandboxConfig(mode="process")))
    try:
        header, _ = runner.request({"use_ipython": False}, time.monotonic() + 120)
    except (RunnerDied, RunnerTimeout) as err:
        pytest.fail(f"the runner did not start: {err}; output: {runner.log_tail(400)}")
    finally:
        runner.stop()
    assert header.get("kind") == "hello", header
    assert not (marker_dir / "RAN").exists(), "a file planted in the work folder ran at the runner's start"


def _interpreter_with_user_site(home: Path) -> str:
    """An interpreter that reads the user site folder under `home` (the venv's base interpreter), or skip."""
    for candidate in (Path(sys.base_prefix) / "bin" / "python3", Path(sys.executable)):
        probe = subprocess.run(
            [str(candidate), "-c", "import site, sys; sys.exit(0 if site.ENABLE_USER_SITE else 1)"],
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            capture_output=True,
        )
        if candidate.exists() and probe.returncode == 0:
            return str(candidate)
    pytest.skip("no interpreter here reads a user site folder")
