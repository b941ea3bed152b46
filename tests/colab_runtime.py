"""A simulated fresh Colab runtime: a virtual environment with what Colab preinstalls, and a kernel in it.

Colab ships Python 3.13 with torch, torchvision, numpy, scikit-learn, scipy, matplotlib, tqdm, nbformat,
ipykernel and ipywidgets, and has neither course_lib nor nbgrader. `colab_runtime()` builds such an environment once in
`.venv-colab-<python>/` (ignored by git; rebuilt when the preinstall list changes) with the interpreter named
by COLAB_PYTHON, else Python 3.13 from pyenv or PATH, else the running interpreter (the report says which).
`run_cells` runs notebook cells in a kernel of that environment, from a scratch folder (so the checkout
itself is not importable), with the data and checkpoint caches in that folder.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
COLAB_PYTHON_VERSION = "3.13"
# What the simulated runtime has before any course cell runs (torch pinned to what the rest of the suite uses).
PREINSTALLED = (
    "torch=={torch}",
    "torchvision=={torchvision}",
    "numpy",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "tqdm",
    "nbformat",
    "ipykernel",
    "ipywidgets",
)
COURSE_DIST = "dynamic-inference-course"


@dataclass(frozen=True)
class Runtime:
    """A built runtime: its interpreter, and which Python it is."""

    python: Path
    version: str
    folder: Path

    def packages(self) -> dict[str, str]:
        """{name: version} of every distribution installed in the runtime."""
        out = subprocess.run(
            [str(self.python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {row["name"].lower(): row["version"] for row in json.loads(out)}

    def uninstall_course(self) -> None:
        """Forget the course package and what its install added, as a new Colab runtime would not have them."""
        subprocess.run(
            [str(self.python), "-m", "pip", "uninstall", "-y", "-q", COURSE_DIST, "torchprofile"],
            capture_output=True,
            text=True,
        )


def _runs(python: str) -> bool:
    """Whether `python` starts (a pyenv shim of a version that is not enabled does not)."""
    try:
        return subprocess.run([python, "-c", "pass"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_colab_python() -> str:
    """COLAB_PYTHON, else a working Python 3.13 from pyenv or PATH, else this interpreter."""
    if os.environ.get("COLAB_PYTHON"):
        return os.environ["COLAB_PYTHON"]
    candidates = sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{COLAB_PYTHON_VERSION}*/bin/python3")), reverse=True
    )
    found = shutil.which(f"python{COLAB_PYTHON_VERSION}")
    if found:
        candidates.append(found)
    return next((c for c in candidates if _runs(c)), sys.executable)


def _preinstall_list() -> list[str]:
    import torch
    import torchvision

    torch_version = torch.__version__.split("+")[0]
    vision_version = torchvision.__version__.split("+")[0]
    return [spec.format(torch=torch_version, torchvision=vision_version) for spec in PREINSTALLED]


def colab_runtime(python: str | None = None) -> Runtime:
    """Build (or reuse) the simulated runtime; raise RuntimeError with pip's output when that fails."""
    python = python or find_colab_python()
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = ROOT / f".venv-colab-{version}"
    wanted = _preinstall_list()
    stamp = hashlib.sha256(json.dumps([python, wanted]).encode()).hexdigest()
    exe = folder / "bin" / "python"
    if not (folder / ".preinstalled").exists() or (folder / ".preinstalled").read_text() != stamp:
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(folder)], check=True)
        done = subprocess.run(
            [str(exe), "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"could not build the simulated Colab runtime with {python}:\n{done.stderr[-3000:]}")
        (folder / ".preinstalled").write_text(stamp)
    runtime = Runtime(python=exe, version=version, folder=folder)
    runtime.uninstall_course()
    return runtime


def kernel_spec(runtime: Runtime, where: Path) -> Path:
    """A Jupyter kernel spec `colab` for the runtime, under where/kernels/colab; returns the JUPYTER_PATH entry."""
    spec_dir = where / "kernels" / "colab"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(runtime.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"simulated Colab (Python {runtime.version})",
                "language": "python",
            }
        )
    )
    return where


def run_cells(
    runtime: Runtime, sources: list[str], workdir: Path, timeout: int = 600, env: dict[str, str] | None = None
) -> nbformat.NotebookNode:
    """Execute the cells in a fresh kernel of the runtime (errors allowed) and return the executed notebook."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    workdir.mkdir(parents=True, exist_ok=True)
    jupyter_path = kernel_spec(runtime, workdir / "jupyter")
    kernel_env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "COURSE_DATA_DIR", "COURSE_CACHE_DIR")
    }
    kernel_env.update(
        {
            "COURSE_DATA_DIR": str(workdir / "data"),
            "COURSE_CACHE_DIR": str(workdir / "cache"),
            "COURSE_SIZE": "small",
            "MPLBACKEND": "Agg",
            "HOME": str(workdir / "home"),
            "JUPYTER_PATH": str(jupyter_path),
            "PIP_NO_INPUT": "1",
        }
    )
    kernel_env["PATH"] = os.pathsep.join(
        [str(runtime.python.parent)] + [p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p]
    )
    kernel_env.update(env or {})
    (workdir / "home").mkdir(exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    nb.metadata.kernelspec = {"name": "colab", "display_name": "colab", "language": "python"}
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(jupyter_path)
    try:
        manager = KernelManager(kernel_name="colab")
        client = NotebookClient(
            nb,
            km=manager,
            timeout=timeout,
            allow_errors=True,
            kernel_name="colab",
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute(env=kernel_env, cwd=str(workdir))
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    return nb


def cell_text(cell: nbformat.NotebookNode) -> str:
    """Everything a person would see under a cell: streams, results and errors (traceback lines as shown)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "\n".join(parts)


def errors(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The error outputs of an executed cell."""
    return [out for out in cell.get("outputs", []) if out.output_type == "error"]
