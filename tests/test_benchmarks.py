"""The benchmarks reuse the notebooks' trained models: their copies of the given configs must match."""
from __future__ import annotations

import json

from autograder.release import ROOT
from benchmarks import bench_early_exit


def _notebook_source(stem: str) -> str:
    nb = json.loads((ROOT / "solutions" / f"{stem}.ipynb").read_text())
    return "\n".join("".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code")


def test_early_exit_benchmark_matches_notebook_03() -> None:
    source = _notebook_source("03_early_exit").replace("'", '"')
    small_arch = json.dumps(bench_early_exit.SMALL_ARCH).replace("[", "(").replace("]", ")")
    epochs = bench_early_exit.NUM_EPOCHS
    assert f"EXIT_WEIGHTS = {bench_early_exit.EXIT_WEIGHTS}" in source
    assert f"cl.env.pick(small={small_arch}, full={{}})" in source
    assert f"num_epochs=cl.env.pick(small={epochs['small']}, full={epochs['full']})" in source
    assert '"name": "ee_resnet_03"' in source and "budget=0.005" in source.replace(" = ", "=")
