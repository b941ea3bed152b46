"""Executed notebooks keep their figures: the kernel draws inline (still headless), so every plot is an image/png
output of the executed copy, and nothing is written back into solutions/ or notebooks/."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from PIL import Image

from autograder.tools.execute import INLINE_BACKEND, execute_notebook, kernel_env
from autograder.tools.release import ROOT, read_notebook

PLOT = "import matplotlib.pyplot as plt\nplt.plot([0, 1, 2], [2, 0, 1])\nplt.show()"
BACKEND = "import matplotlib\nprint(matplotlib.get_backend())"


def png_outputs(nb: nbformat.NotebookNode) -> list[bytes]:
    """The decoded bytes of every image/png output of the notebook's code cells."""
    return [
        base64.b64decode(output["data"]["image/png"])
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def is_png(blob: bytes) -> bool:
    """Whether `blob` is a whole PNG image with pixels (Pillow reads and checks it)."""
    try:
        with Image.open(io.BytesIO(blob)) as image:
            image.load()
            return image.format == "PNG" and image.width > 0 and image.height > 0
    except OSError:
        return False


def _source(tmp_path: Path) -> Path:
    nb = new_notebook(cells=[new_code_cell(PLOT, id="plot"), new_code_cell(BACKEND, id="backend")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "src" / "98_plot.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    return path


def test_the_kernel_draws_inline_whatever_this_process_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert kernel_env()["MPLBACKEND"] == INLINE_BACKEND and kernel_env(figures=False)["MPLBACKEND"] == "Agg"
    assert kernel_env()["COURSE_SIZE"] == os.environ["COURSE_SIZE"]  # the rest is inherited
    assert os.environ["MPLBACKEND"] == "Agg"  # this process is left as it was


def test_a_plot_becomes_a_png_output_of_the_copy_only(tmp_path: Path) -> None:
    assert not is_png(b"\x89PNG\r\n\x1a\n truncated") and not is_png(b"")  # the check can fail
    source = _source(tmp_path)
    before = source.read_bytes()
    result = execute_notebook(source, tmp_path / "out", timeout=120)
    assert result.ok, result.error
    assert result.output is not None
    executed = read_notebook(result.output)
    images = png_outputs(executed)
    assert len(images) == 1 and is_png(images[0])
    assert "backend_inline" in executed.cells[1].outputs[0]["text"]
    assert source.read_bytes() == before
    plain = execute_notebook(source, tmp_path / "plain", timeout=120, figures=False)
    assert plain.ok and plain.output is not None
    executed = read_notebook(plain.output)
    assert png_outputs(executed) == [] and executed.cells[1].outputs[0]["text"].strip().lower() == "agg"


@pytest.mark.slow  # about 20-30 s on two free CPU cores (it trains the baseline unless it is cached)
def test_the_executed_orientation_notebook_keeps_its_figures(tmp_path: Path) -> None:
    stem = "00_orientation"
    sources = [ROOT / "solutions" / f"{stem}.ipynb", ROOT / "notebooks" / f"{stem}.ipynb"]
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in sources]
    result = execute_notebook(sources[0], tmp_path, timeout=900)
    assert result.ok, f"cell {result.cell_index}: {result.error}"
    assert result.output is not None and result.output.parent == tmp_path
    images = png_outputs(read_notebook(result.output))
    assert len(images) >= 2 and all(is_png(image) for image in images), [len(image) for image in images]
    assert [hashlib.sha256(path.read_bytes()).hexdigest() for path in sources] == digests
