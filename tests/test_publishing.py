"""One install source: pyproject.toml [tool.course], stamped by the release everywhere it is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import course_lib as cl
from autograder.tools import publishing
from autograder.tools.execute import CELL_TIMEOUT, default_timeout
from autograder.tools.release import ROOT, check_repo, read_notebook, solution_stems, write_release

FORK = "https://github.com/some-university/dynamic-inference-fork"


def _copy_course(target: Path) -> Path:
    """The files the release reads and stamps, copied into `target`."""
    for rel in (
        "pyproject.toml",
        "README.md",
        "docs/self_study.md",
        "autograder/tools/grade_on_colab.ipynb",
        "course_lib/release_info.py",
    ):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, target / rel)
    for folder in ("solutions", "notebooks", "docs/results"):
        shutil.copytree(ROOT / folder, target / folder)
    return target


def test_course_info_comes_from_pyproject() -> None:
    info = publishing.course_info(ROOT)
    assert info is not None and info.version == cl.__version__ == cl.release_info.VERSION
    assert info.install_spec == cl.release_info.INSTALL_SPEC == f"git+{info.repository}@v{info.version}"
    assert info.colab_url("03_early_exit") == (
        "https://colab.research.google.com/github/"
        + info.repository.removeprefix("https://github.com/")
        + "/blob/main/notebooks/03_early_exit.ipynb"
    )


def test_a_fork_changes_one_line_and_the_release_stamps_it_everywhere(tmp_path: Path) -> None:
    root = _copy_course(tmp_path)
    pyproject = root / "pyproject.toml"
    old = publishing.course_info(ROOT).repository
    pyproject.write_text(pyproject.read_text().replace(f'repository = "{old}"', f'repository = "{FORK}"'))
    problems = check_repo(root)
    stale = {p.split(" does not carry")[0] for p in problems if "does not carry" in p}
    assert {
        "course_lib/release_info.py",
        "autograder/tools/grade_on_colab.ipynb",
        "README.md",
        "docs/self_study.md",
    } <= stale
    assert {f"solutions/{stem}.ipynb" for stem in solution_stems(ROOT)} <= stale
    write_release(root=root)
    assert check_repo(root) == []
    for stem in solution_stems(ROOT):
        for folder in ("solutions", "notebooks"):
            text = (root / folder / f"{stem}.ipynb").read_text()
            assert old not in text and f"git+{FORK}@v" in text
            assert (
                f"colab.research.google.com/github/some-university/dynamic-inference-fork/blob/main/"
                f"notebooks/{stem}.ipynb" in text
            )
    assert f'REPOSITORY = "{FORK}"' in (root / "course_lib/release_info.py").read_text()
    assert FORK in (root / "autograder/tools/grade_on_colab.ipynb").read_text()
    assert old.removeprefix("https://github.com/") not in (root / "README.md").read_text()


def test_setup_cells_are_the_template_and_compile() -> None:
    info = publishing.course_info(ROOT)
    for stem in solution_stems(ROOT):
        for folder in ("solutions", "notebooks"):
            nb = read_notebook(ROOT / folder / f"{stem}.ipynb")
            setup = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup"]
            assert len(setup) == 1 and setup[0].source == publishing.setup_cell_source(info, stem)
        source = publishing.setup_cell_source(info, stem)
        compile(source.replace("%env", "#"), f"{stem}-setup", "exec")
        assert "%env COURSE_SIZE=full" in source and "%env COURSE_INSTALL=" in source
        assert "--constraint" in source and "--upgrade" not in source


def test_version_mismatch_names_the_exact_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_INSTALL", raising=False)
    with pytest.raises(cl.env.VersionMismatchError) as caught:
        cl.env.setup_notebook("00_orientation", expected_version="9.9.9", source="git+https://example.org/x@v9.9.9")
    shown = caught.value._render_traceback_()
    assert shown[0].startswith("VersionMismatchError: this notebook was written for course_lib 9.9.9")
    assert '    %pip install --no-deps --force-reinstall "git+https://example.org/x@v9.9.9"' in shown
    monkeypatch.setenv("COURSE_INSTALL", "/content/drive/MyDrive/course.whl")
    assert (
        cl.env.install_command("git+https://example.org/x@v9")
        == '%pip install --no-deps --force-reinstall "/content/drive/MyDrive/course.whl"'
    )


def test_full_size_on_a_cpu_warns(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(cl.env, "get_device", lambda verbose=True: __import__("torch").device("cpu"))
    monkeypatch.setenv("COURSE_SIZE", "small")
    cl.env.setup_notebook("00_orientation")
    assert "WARNING" not in capsys.readouterr().out
    monkeypatch.setenv("COURSE_SIZE", "full")
    cl.env.setup_notebook("00_orientation")
    out = capsys.readouterr().out
    assert "WARNING: COURSE_SIZE=full on a CPU" in out and "GPU runtime" in out


def test_execute_cell_limit_follows_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_SIZE", "small")
    assert default_timeout() == CELL_TIMEOUT["small"] == 900
    monkeypatch.setenv("COURSE_SIZE", "full")
    assert default_timeout() == CELL_TIMEOUT["full"] >= 3600
