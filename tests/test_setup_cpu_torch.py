"""scripts/setup.sh's COURSE_TORCH=cpu switch: torch and torchvision from a CPU wheel index, default unchanged.

PyTorch's index cannot be reached from the test machines, so the real install runs against a local PEP 503
index (served on 127.0.0.1) holding stand-in wheels named like torch and torchvision, in a throwaway root
that holds only scripts/setup.sh and pyproject.toml.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from autograder.tools.release import ROOT

SETUP = ROOT / "scripts" / "setup.sh"
CPU_TORCH = "2.5.1+cpu"
CPU_VISION = "0.20.1+cpu"


def copy_root(dest: Path) -> Path:
    """A repository root with only what setup.sh reads: scripts/setup.sh and pyproject.toml."""
    (dest / "scripts").mkdir(parents=True)
    shutil.copy2(SETUP, dest / "scripts" / "setup.sh")
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def setup_env(**extra: str) -> dict[str, str]:
    """The environment for setup.sh: pip reads no config file, no find-links, no extra index of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "COURSE_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHON=base_python(), **extra)
    return env


def base_python() -> str:
    """The interpreter behind the test venv (what a user's `python3` would be)."""
    exe = Path(sys._base_executable)  # type: ignore[attr-defined]
    return str(exe if exe.exists() else Path(sys.executable))


def run_setup(root: Path, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup.sh")],
        env=setup_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel `name-version` holding `files` (path -> text), with a valid RECORD."""
    dist_info = f"{name}-{version}.dist-info"
    members = dict(files)
    members[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    members[f"{dist_info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in members.items():
            zf.writestr(path, text)
    return wheel


def stand_in_torch(folder: Path, version: str, cuda: str | None) -> Path:
    return build_wheel(
        folder,
        "torch",
        version,
        {
            "torch/__init__.py": f"__version__ = {version!r}\nfrom . import version\n",
            "torch/version.py": f"cuda = {cuda!r}\n",
        },
    )


def simple_index(folder: Path, wheels: list[Path]) -> Path:
    """A PEP 503 index: folder/simple/<project>/index.html linking each wheel placed next to it."""
    simple = folder / "simple"
    for wheel in wheels:
        project = simple / wheel.name.split("-")[0]
        project.mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, project / wheel.name)
        links = "".join(f'<a href="{w.name}">{w.name}</a><br>\n' for w in sorted(project.glob("*.whl")))
        (project / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    (simple / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n"
        + "".join(f'<a href="{p.name}/">{p.name}</a>\n' for p in sorted(simple.iterdir()) if p.is_dir())
        + "</body></html>\n"
    )
    return simple


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve `folder` on 127.0.0.1; yields the base URL and the list of requested paths."""
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def dry_run_commands(output: str) -> list[str]:
    prefix = "[setup] dry run: "
    return [line[len(prefix) :].strip() for line in output.splitlines() if line.startswith(prefix)]


def test_setup_script_parses() -> None:
    proc = subprocess.run(["bash", "-n", str(SETUP)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_default_dry_run_installs_as_before(tmp_path: Path) -> None:
    root = copy_root(tmp_path / "repo")
    proc = run_setup(root, COURSE_SETUP_DRY_RUN="1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    venv_python = f"{root}/.venv/bin/python"
    assert dry_run_commands(proc.stdout) == [
        f"{base_python()} -m venv {root}/.venv",
        f"{venv_python} -m pip install -q --upgrade pip",
        rf"{venv_python} -m pip install -q -e .\[dev\]",
        "nothing installed",
    ]
    assert "index-url" not in proc.stdout + proc.stderr
    assert not (root / ".venv").exists()  # a dry run creates nothing


def test_cpu_switch_installs_torch_from_the_index_first(tmp_path: Path) -> None:
    root = copy_root(tmp_path / "repo")
    (tmp_path / "mirror" / "torch").mkdir(parents=True)
    index = (tmp_path / "mirror").as_uri()
    proc = run_setup(root, COURSE_SETUP_DRY_RUN="1", COURSE_TORCH="cpu", COURSE_TORCH_INDEX=index)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    commands = dry_run_commands(proc.stdout)
    torch_install = f"{root}/.venv/bin/python -m pip install -q --index-url {index} torch\\>=2.4 torchvision\\>=0.19"
    assert commands.index(torch_install) == 1  # right after creating the venv, before everything else
    assert commands[-2] == rf"{root}/.venv/bin/python -m pip install -q -e .\[dev\]"


def test_unreachable_index_fails_quickly_with_what_to_do(tmp_path: Path) -> None:
    root = copy_root(tmp_path / "repo")
    index = f"http://127.0.0.1:{closed_port()}/whl/cpu"
    start = time.monotonic()
    proc = run_setup(root, timeout=60, COURSE_SETUP_DRY_RUN="1", COURSE_TORCH="cpu", COURSE_TORCH_INDEX=index)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert elapsed < 20
    assert f"cannot reach the CPU wheel index {index}" in proc.stderr
    assert "Unset COURSE_TORCH" in proc.stderr and "COURSE_TORCH_INDEX=<url>" in proc.stderr
    assert "pip install" not in proc.stdout  # nothing was attempted


def test_unknown_choice_is_refused(tmp_path: Path) -> None:
    proc = run_setup(copy_root(tmp_path / "repo"), COURSE_SETUP_DRY_RUN="1", COURSE_TORCH="cuda")
    assert proc.returncode == 1 and "COURSE_TORCH=cuda is not a choice" in proc.stderr


def test_cpu_switch_really_installs_from_a_local_index_and_replaces_a_cuda_build(tmp_path: Path) -> None:
    """A real pip install from a served index: a CUDA stand-in in .venv is replaced, a second run does nothing."""
    root = copy_root(tmp_path / "repo")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    cpu_torch = stand_in_torch(wheels, CPU_TORCH, cuda=None)
    cpu_vision = build_wheel(
        wheels, "torchvision", CPU_VISION, {"torchvision/__init__.py": f"__version__ = {CPU_VISION!r}\n"}
    )
    simple_index(tmp_path / "site", [cpu_torch, cpu_vision])
    cuda_torch = stand_in_torch(tmp_path, "2.5.1", cuda="12.4")

    venv = root / ".venv"
    subprocess.run([base_python(), "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = setup_env()
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", str(cuda_torch)], check=True, env=env)
    # the course package counts as installed, so setup.sh runs only the torch step (no registry needed)
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (venv / ".course-installed").write_text(digest + "\n")

    def installed() -> str:
        code = "import torch, torchvision; print(torch.__version__, torch.version.cuda, torchvision.__version__)"
        return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    cuda_check = [python, "-c", "import torch; print(torch.version.cuda)"]
    assert subprocess.run(cuda_check, capture_output=True, text=True, check=True).stdout.strip() == "12.4"
    with serve(tmp_path / "site") as (url, requests):
        proc = run_setup(root, COURSE_TORCH="cpu", COURSE_TORCH_INDEX=f"{url}/simple")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "removing .venv's torch build with CUDA" in proc.stdout
        assert installed() == f"{CPU_TORCH} None {CPU_VISION}"
        assert "/simple/torch/" in requests and any(unquote(r).endswith(cpu_torch.name) for r in requests)

        served = len(requests)
        again = run_setup(root, COURSE_TORCH="cpu", COURSE_TORCH_INDEX=f"{url}/simple")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "installing" not in again.stdout and len(requests) == served  # already the CPU build: no-op
