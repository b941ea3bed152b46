"""The benchmarks reuse the notebooks' trained models: their copies of the given configs must match."""

from __future__ import annotations

import json
import math
import re

from autograder.tools.release import ROOT
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
    epochs_pick = f"cl.env.pick(small={epochs['small']}, full={epochs['full']})"
    assert re.search(r'num_epochs(=|": )' + re.escape(epochs_pick), source), (
        "03's training epochs differ from the benchmark's"
    )
    assert '"name": "ee_resnet_03"' in source and "budget=0.005" in source.replace(" = ", "=")


# ---------------------------------------------------------------------------------------------
# benchmarks/gpu_check.py


def test_gpu_check_quick_cpu_run_writes_report_and_agrees(tmp_path) -> None:
    import torch

    from benchmarks import gpu_check

    status = gpu_check.main(["--quick", "--out", str(tmp_path)])
    tag = gpu_check.device_tag()
    report = (tmp_path / f"gpu_check_{tag}.md").read_text()
    data = json.loads((tmp_path / f"gpu_check_{tag}.json").read_text())
    assert status == 0 and data["parity"]["agree"] and data["parity"]["disagreements"] == []
    assert "All verdicts agree" in report and "Seconds per full-size training epoch" in report
    stems = {row["stem"] for row in data["parity"]["summary"]}
    assert stems == set(gpu_check.hidden_stems()) and all(row["test_runs"] > 0 for row in data["parity"]["summary"])
    assert {row["model"] for row in data["training"]["rows"]} == set(gpu_check.MODELS)
    assert all(row["train_seconds_per_full_epoch"] > 0 for row in data["training"]["rows"])
    if not torch.cuda.is_available():
        assert "compares the CPU with the CPU" in report


def test_gpu_check_reports_a_device_dependent_verdict() -> None:
    """A fake test that passes only on the CPU must come out as a disagreement when the device pass is not the CPU."""
    import course_lib as cl
    from benchmarks import gpu_check

    def device_dependent() -> dict[str, str]:
        return {
            "fake_cpu_only": "passed" if cl.env.get_device(verbose=False).type == "cpu" else "failed",
            "fake_always": "passed",
        }

    cases = [gpu_check.ParityCase("99_fake", "reference", device_dependent)]
    result = gpu_check.check_parity(
        cases,
        device_context=lambda: gpu_check.forced_device("meta"),
        device_label="meta (pretend GPU)",
        log=lambda _: None,
    )
    assert not result.agree
    assert [(d.test, d.device_state, d.cpu_state) for d in result.disagreements] == [
        ("fake_cpu_only", "failed", "passed")
    ]
    info = {
        "date": "-",
        "machine": "-",
        "python": "-",
        "torch": "-",
        "torch_cuda": None,
        "cudnn": None,
        "device": "cpu",
        "cuda_available": False,
    }
    report = gpu_check.render_markdown("test", info, None, result, quick=True)
    assert "1 verdict(s) disagree" in report and "| 99_fake | reference | fake_cpu_only | failed | passed |" in report
    assert cl.env.get_device(verbose=False).type != "meta", "forced_device must restore get_device"


def test_gpu_check_device_tag_names_the_gpu() -> None:
    from benchmarks import gpu_check

    assert gpu_check.slug("Tesla T4") == "tesla-t4" and gpu_check.slug("NVIDIA H200") == "nvidia-h200"


# ---------------------------------------------------------------------------------------------
# benchmarks/fullsize_estimate.py, on a hand-written fit log


def _fit_line(**fields) -> str:
    line = {
        "desc": "train",
        "config": "baseline_resnet",
        "num_epochs": 30,
        "epochs_run": 1,
        "steps_run": 3,
        "steps_per_epoch": 5,
        "train_size": 540,
        "batch_size": 128,
        "amp": "auto",
        "device": "cpu",
        "cap": "1:3",
        "seconds": 3.0,
        "cached": False,
        "model": "ResNet",
        "macs_per_image": 40_000_000,
    }
    line.update(fields)
    return json.dumps(line)


SAMPLE_LOG = (
    "\n".join(
        [
            _fit_line(stem="00_orientation"),  # the whole synthetic split
            _fit_line(
                stem="00_orientation", config=None, num_epochs=2, steps_per_epoch=1, train_size=64, seconds=0.5
            ),  # a visible check's tiny fit
            _fit_line(stem="00_orientation", cached=True, seconds=0.2),  # loaded from the cache: free
            _fit_line(stem="04_layer_skipping", num_epochs=200, amp="off"),  # fp32: half the rate
            _fit_line(stem="05_self_distillation", num_epochs=120),
        ]
    )
    + "\n"
)


def test_fullsize_estimate_arithmetic_on_a_sample_log(tmp_path) -> None:
    from benchmarks import fullsize_estimate as fe

    path = tmp_path / "fits.jsonl"
    path.write_text(SAMPLE_LOG)
    calls = fe.parse_fit_log(path)
    assert [c.notebook for c in calls] == ["00_orientation"] * 3 + ["04_layer_skipping", "05_self_distillation"]
    by_stem = {e.notebook: e for e in fe.estimate_notebooks(calls, {"00_orientation": 20.0})}

    nb00 = by_stem["00_orientation"]
    full, tiny, cached = nb00.fits
    # 45,000 images x 30 epochs: 6 x 40M x 1.35M = 3.24e14 FLOP training + 2 x 40M x 5,000 x 30 = 1.2e13 validation
    assert full.scaled and full.flop == 3.36e14
    assert full.steps == (352 + 10) * 30  # 352 batches of 128 + 10 of 512 per epoch
    assert math.isclose(full.seconds_low, 10_860 * 0.008)  # 86.9 s: host overhead beats 336/4 = 84 s
    assert math.isclose(full.seconds_high, 3.36e14 / 2e12)  # 168 s at 2 TFLOP/s
    assert not tiny.scaled and tiny.flop == 6 * 40e6 * 64 * 2 and tiny.steps == 2
    assert cached.call.cached and nb00.flop == full.flop + tiny.flop  # the cached fit adds nothing
    assert nb00.requested_epochs == 30
    assert math.isclose(nb00.non_training_seconds, 20.0 - 3.0 - 0.5 - 0.2)
    low, high = nb00.seconds_range
    assert math.isclose(low, 86.88 + 0.016 + 16.3) and math.isclose(high, 168 + 0.016 + 16.3)
    assert nb00.verdict(600) == "yes"

    nb04 = by_stem["04_layer_skipping"]  # 200 epochs in fp32 at 1-2 TFLOP/s
    assert math.isclose(nb04.seconds_range[0], 200 / 30 * 3.36e14 / 2e12)
    assert nb04.verdict(600) == "no"  # 1,120-2,240 s
    nb05 = by_stem["05_self_distillation"]  # 120 epochs fp16: 348-672 s
    assert nb05.verdict(600) == "borderline" and nb05.non_training_seconds is None


def test_fullsize_estimate_cli_writes_the_table(tmp_path) -> None:
    from benchmarks import fullsize_estimate as fe

    log = tmp_path / "fits.jsonl"
    log.write_text(SAMPLE_LOG)
    execute_log = tmp_path / "execute.log"
    execute_log.write_text("[execute] 00_orientation: ok in 20.0 s -> /tmp/x/00_orientation.ipynb\n")
    status = fe.main(
        [str(log), "--execute-log", str(execute_log), "--cpu-step-seconds", "0.32", "--out", str(tmp_path)]
    )
    assert status == 1  # 04 and 05 are not under 10 minutes
    table = (tmp_path / "fullsize_t4_estimate.md").read_text()
    assert "| notebook | fit calls | requested epochs | training TFLOP | T4 estimate (range) | under 10 min? |" in table
    assert "| 00_orientation | 3 (1 cached, 1 tiny) | 30 | 336 | 1.7-3.1 min (incl. 16 s non-training) | yes |" in table
    assert "98 GFLOP/s" in table  # 6 x 40.81M x 128 / 0.32 s
    numbers = json.loads((tmp_path / "fullsize_t4_estimate.json").read_text())
    assert [n["under_10_min"] for n in numbers["notebooks"]] == ["yes", "no", "borderline"]


def test_fullsize_estimate_rejects_a_broken_log(tmp_path) -> None:
    import pytest

    from benchmarks import fullsize_estimate as fe

    path = tmp_path / "03_early_exit.jsonl"
    path.write_text(_fit_line() + "\nnot json\n")
    with pytest.raises(ValueError, match="line 2 of .* is not JSON"):
        fe.parse_fit_log(path)
    path.write_text(json.dumps({"desc": "train"}) + "\n")
    with pytest.raises(ValueError, match="lacks num_epochs"):
        fe.parse_fit_log(path)
    path.write_text(_fit_line() + "\n")
    assert fe.parse_fit_log(path)[0].notebook == "03_early_exit"  # no stem field: the file's name


def test_grading_throughput_and_ab_on_one_notebook(tmp_path) -> None:
    """The grading section's two scripts run end to end on one solved notebook (they broke once unnoticed)."""
    import shutil

    from autograder.tools.samples import write_samples
    from benchmarks import grading_ab, grading_throughput

    samples = tmp_path / "samples"
    write_samples(samples, ["00_orientation"])
    for folder in samples.iterdir():
        if folder.is_dir() and folder.name != "reference":
            shutil.rmtree(folder)
    row = grading_throughput.measure(samples, 1, 20.0)
    assert row["submissions"] == 1 and row["points"] == {"reference/00_orientation": "4/4"}, row
    out = tmp_path / "ab.json"
    code = grading_ab.main(
        ["--before", str(ROOT), "--stems", "00_orientation", "--students", "reference", "--rounds", "1"]
        + ["--json", str(out)]
    )
    result = json.loads(out.read_text())
    assert code == 0 and result["notebooks"] == 1 and result["points_that_differ"] == [], result
    assert result["after_over_before"] > 0
