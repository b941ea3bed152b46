"""Browser smoke test: JupyterLab from the project's venv, driven by a real headless Chromium.

What it does, end to end, as a learner would:
1. starts JupyterLab on 127.0.0.1 (free port, random token, --no-browser) with a temporary root
   holding the student copy of 00_orientation (notebooks/, or generated from solutions/ when the
   release is not built) and the solution notebook;
2. opens the student notebook in Debian's chromium (Playwright, executable_path=/usr/bin/chromium,
   a fresh user-data-dir; Playwright never downloads a browser here) and checks it rendered with
   the exercise stub;
3. opens the solution notebook, Run > Run All Cells, waits until the kernel is idle and every cell
   ran, checks that no cell shows an error and that a figure (an <img> in an output area)
   rendered, saves it and checks the saved file too;
4. takes full-page screenshots into runs/artifacts/ (path printed in the test log);
4b. runs the student copy as a learner who has not started: Run All stops at exercise 1's visible check, which
   must say "exercise 1 is not done yet" and which function to fill in, in a short traceback that fits the column
   (no horizontal scroll); a screenshot of that cell is saved (runs/artifacts/browser_stub_message_00.png);
5. runs `nbgrader validate` on the solution and parses its output for "Success" (it exits 0 even
   when the notebook fails).

Needs chromium and the playwright package: scripts/install_browser.sh installs them when missing
(apt-get + pip); the test skips with the script's reason when that is not possible.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]  # TODO: pytest.mark.browser once tests/conftest.py registers it

ROOT = Path(__file__).resolve().parent.parent
STEM = "00_orientation"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "runs" / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# ~1 min on 2 quiet cores at the small size (the baseline trains once, then loads from the cache); generous for
# busy shared CI machines, where one epoch can take a minute instead of two seconds.
RUN_ALL_TIMEOUT_S = float(os.environ.get("COURSE_BROWSER_TIMEOUT", "1800"))
VIEWPORT = {"width": 1280, "height": 900}


def _have_browser_tools() -> bool:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def browser_tools() -> None:
    """Make sure chromium and playwright are there (scripts/install_browser.sh), or skip with its reason."""
    if _have_browser_tools():
        return
    script = ROOT / "scripts" / "install_browser.sh"
    proc = subprocess.run(
        ["bash", str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env=dict(os.environ, VENV_PYTHON=sys.executable),
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        pytest.skip(
            f"browser tools missing and scripts/install_browser.sh could not install them "
            f"(exit {proc.returncode}): {tail}"
        )
    import importlib

    importlib.invalidate_caches()
    if not _have_browser_tools():
        pytest.skip("scripts/install_browser.sh ran but chromium or playwright is still missing")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings_dir: Path) -> None:
    """JupyterLab user settings for a quiet, fully rendered notebook (no news toast, no windowing)."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for rel, value in settings.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


def _student_copy(dest: Path) -> str:
    """Write the student copy exactly as `release` builds it from solutions/ (what notebooks/ holds once released)."""
    from autograder.tools.release import release_text

    dest.write_text(release_text(STEM, ROOT), encoding="utf-8")
    return "the release of solutions/"


@pytest.fixture(scope="module")
def lab(browser_tools, tmp_path_factory):
    """A running JupyterLab server: yields (base_url, token, root_dir, log_path)."""
    work = tmp_path_factory.mktemp("browser")
    root = work / "root"
    (root / "student").mkdir(parents=True)
    (root / "solution").mkdir()
    origin = _student_copy(root / "student" / f"{STEM}.ipynb")
    shutil.copy(ROOT / "solutions" / f"{STEM}.ipynb", root / "solution" / f"{STEM}.ipynb")
    settings = work / "lab-settings"
    _write_settings(settings)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        COURSE_SIZE="small",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        TQDM_MININTERVAL="10",
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    env.pop("TQDM_DISABLE", None)
    log_path = work / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers often run as root; Jupyter refuses without it
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        print(f"JupyterLab {base} root {root} (student copy: {origin}); log {log_path}")
        yield base, token, root, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    """A Playwright page in Debian's chromium with a fresh profile."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
            device_scale_factor=1,
        )
        context.set_default_timeout(60_000)
        pg = context.pages[0] if context.pages else context.new_page()
        try:
            yield pg
        finally:
            context.close()


def _open_notebook(page, lab, rel: str) -> None:
    base, token, _, _ = lab
    page.goto(f"{base}/lab/tree/{rel}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell", timeout=120_000)
    # the kernel is connected once the toolbar's kernel status shows it idle
    _wait_kernel_idle(lab, rel, timeout=180)


def _kernels_for(lab, rel: str) -> list[dict]:
    base, token, _, _ = lab
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as resp:
        sessions = json.load(resp)
    return [s["kernel"] for s in sessions if s.get("path", "").endswith(rel) and s.get("kernel")]


def _wait_kernel_idle(lab, rel: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = _kernels_for(lab, rel)
        if kernels and all(k.get("execution_state") == "idle" for k in kernels):
            return
        time.sleep(1)
    raise AssertionError(f"the kernel of {rel} did not become idle within {timeout:.0f} s")


def _active(page, selector: str):
    return page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {selector}")


def _run_all(page) -> None:
    """Run > Run All Cells through the menu bar, as a learner would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()


def _wait_all_ran(page, lab, rel: str, timeout: float) -> list[str]:
    """Wait until no cell is queued or running and the kernel is idle twice in a row; return the prompts."""
    deadline = time.monotonic() + timeout
    calm = 0
    prompts: list[str] = []
    time.sleep(2)
    while time.monotonic() < deadline:
        prompts = [t.strip() for t in _active(page, ".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
        busy = any("*" in p for p in prompts)
        idle = all(k.get("execution_state") == "idle" for k in _kernels_for(lab, rel))
        calm = calm + 1 if (not busy and idle) else 0
        if calm >= 3:
            return prompts
        time.sleep(2)
    raise AssertionError(f"Run All did not finish within {timeout:.0f} s; prompts {prompts}")


_SCROLLER = (
    "() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')"
    " || document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook')"
)


def _full_screenshot(page, path: Path) -> None:
    """Grow the viewport to the notebook's content height, scrolled to the top, so one screenshot shows every cell."""
    height = page.evaluate(
        "() => { const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell');"
        " let h = 0; cells.forEach(c => { h += c.getBoundingClientRect().height + 30; }); return h; }"
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": int(min(max(height + 300, 900), 15000))})
    page.evaluate(f"() => {{ const el = ({_SCROLLER})(); if (el) el.scrollTop = 0; }}")
    page.wait_for_timeout(1500)
    page.evaluate(f"() => {{ const el = ({_SCROLLER})(); if (el) el.scrollTop = 0; }}")
    top = page.evaluate(
        "() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').getBoundingClientRect().top"
    )
    assert 0 <= top < 400, f"the first cell is not at the top of the screenshot (top={top:.0f} px)"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:32]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _check_screenshot(path: Path, record_property) -> None:
    width, height = _png_size(path)
    size = path.stat().st_size
    print(f"screenshot: {path} ({width}x{height}, {size / 1024:.0f} KiB)")
    record_property(f"screenshot_{path.stem}", str(path))
    assert width >= 1000 and height >= 800, f"screenshot too small: {width}x{height}"
    assert size > 30_000, f"screenshot suspiciously small ({size} bytes): blank page?"
    try:
        import numpy as np
        from PIL import Image
    except ImportError:
        return
    gray = np.asarray(Image.open(path).convert("L"))[:, 300:1200]  # the notebook column
    text_rows = float(((gray < 160).sum(axis=1) > 3).mean())
    print(f"  rows with text: {100 * text_rows:.0f}%")
    assert text_rows > 0.25, f"only {100 * text_rows:.0f}% of the screenshot's rows show text: mostly blank"


def test_student_notebook_renders_with_the_stub(page, lab, record_property) -> None:
    rel = f"student/{STEM}.ipynb"
    _open_notebook(page, lab, rel)
    text = _active(page, ".jp-Notebook").inner_text()
    assert "Exercise 1: MACs of a convolution" in text, "markdown did not render"
    assert "def conv2d_macs" in text and "raise NotImplementedError()" in text, "the exercise stub is missing"
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, "the student copy leaks solutions"
    _full_screenshot(page, ARTIFACTS / f"browser_student_{STEM[:2]}.png")
    _check_screenshot(ARTIFACTS / f"browser_student_{STEM[:2]}.png", record_property)


def test_unfinished_exercise_says_what_to_do(page, lab, record_property) -> None:
    """Run All on the untouched student copy stops at exercise 1's check with the friendly message, whole."""
    rel = f"student/{STEM}.ipynb"
    _open_notebook(page, lab, rel)
    _run_all(page)
    _wait_all_ran(page, lab, rel, RUN_ALL_TIMEOUT_S)
    errors = _active(page, ".jp-OutputArea-output").filter(has_text="exercise 1 is not done yet")
    assert errors.count() == 1, "no output says 'exercise 1 is not done yet' after Run All on the student copy"
    text = errors.first.inner_text()
    print("the stub's message in the browser:\n" + text)
    assert "ExerciseNotDone" in text and "replace `raise NotImplementedError()` in conv2d_macs" in text, text
    assert "__exit__" not in text, "the traceback shows the check framework's own frame"
    assert len(text.splitlines()) <= 15, f"the traceback is {len(text.splitlines())} lines long"
    overflow = errors.first.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert overflow[0] <= overflow[1] + 1, f"the message is wider than the column (scroll {overflow}): cut off"
    cell = _active(page, ".jp-CodeCell").filter(has_text="exercise 1 is not done yet")
    cell.first.scroll_into_view_if_needed()
    shot = ARTIFACTS / f"browser_stub_message_{STEM[:2]}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    cell.first.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    record_property("screenshot_stub_message", str(shot))
    width, height = _png_size(shot)
    assert width >= 600 and height >= 100, f"screenshot of the cell too small: {width}x{height}"


def test_solution_runs_all_cells_without_errors(page, lab, record_property) -> None:
    rel = f"solution/{STEM}.ipynb"
    _open_notebook(page, lab, rel)
    t0 = time.monotonic()
    _run_all(page)
    prompts = _wait_all_ran(page, lab, rel, RUN_ALL_TIMEOUT_S)
    elapsed = time.monotonic() - t0
    print(f"Run All of {rel}: {elapsed:.0f} s in the browser")
    not_run = [i for i, p in enumerate(prompts) if not re.search(r"\[\d+\]", p)]
    assert not not_run, f"code cells {not_run} did not run (prompts {prompts}): an earlier cell failed?"
    errors = _active(page, ".jp-OutputArea-output").filter(has_text="Traceback (most recent call last)")
    error_texts = (
        errors.all_inner_texts()
        + _active(page, ".jp-OutputArea-output")
        .filter(has_text=re.compile(r"^\w*(Error|Exception)\b", re.M))
        .all_inner_texts()
    )
    assert not error_texts, "a cell shows an error:\n" + "\n---\n".join(t[:800] for t in error_texts)
    images = _active(page, ".jp-OutputArea-output img")
    assert images.count() >= 1, "no figure rendered in any output area"
    assert page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-OutputArea-output img')).some(img => img.complete && img.naturalWidth > 100)"
    ), "figures did not load"
    # save through the File menu and check the saved file as well
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).first.click()
    page.wait_for_timeout(3000)
    saved = json.loads((lab[2] / rel).read_text(encoding="utf-8"))
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "the saved notebook has cells that did not run"
    bad = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not bad, f"error outputs in the saved notebook: {[o.get('ename') for o in bad]}"
    shot = ARTIFACTS / f"browser_solution_{STEM[:2]}.png"
    _full_screenshot(page, shot)
    _check_screenshot(shot, record_property)


def test_nbgrader_validate_reports_success(lab) -> None:
    pytest.importorskip("nbgrader")
    fresh = lab[2] / "validate" / f"{STEM}.ipynb"
    fresh.parent.mkdir(exist_ok=True)
    shutil.copy(ROOT / "solutions" / f"{STEM}.ipynb", fresh)
    env = dict(os.environ, COURSE_SIZE="small", TQDM_DISABLE="1", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", fresh.name],
        cwd=fresh.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_ALL_TIMEOUT_S,
    )
    output = proc.stdout + proc.stderr
    verdict = [line for line in output.splitlines() if "Success" in line or "failed" in line.lower()]
    print(f"nbgrader validate (exit {proc.returncode}): {verdict[-1] if verdict else '(no verdict line)'}")
    # nbgrader validate exits 0 even when tests fail: its verdict is in the text
    assert "Success! Your notebook passes all the tests." in output, f"nbgrader validate:\n{output[-3000:]}"
