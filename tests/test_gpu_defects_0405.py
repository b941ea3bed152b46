"""GPU and full-size defects of notebooks 04 and 05, each shown on the CPU (review G2, G3, G4, K2).

- G2: the straight-through Gumbel gate must stay finite for float16 logits (mixed precision on a GPU) even
  when a uniform draw is exactly 0;
- G3: every timed comparison in solutions/ goes through cl.timing.median_times with a GPU-aware `sync=`;
- G4: 05's same-seed check tolerates the last-bit noise of GPU kernels but still rejects another seed, and
  its training probe asks for deterministic kernels without mixed precision; 05's visible check allows a
  smoke-test cap (COURSE_TRAIN_CAP) on the epochs;
- K2: no numpy name outside the range pyproject allows (numpy >= 1.26, including 2.x).
"""

from __future__ import annotations

import ast
import functools
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import course_lib as cl
from autograder import content
from autograder.student import LocalStudent
from autograder.suite import load_suite, reference_namespace, run_suite
from autograder.tools.release import read_notebook

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
GATE_STEM, DISTILL_STEM = "04_layer_skipping", "05_self_distillation"


# ----------------------------------------------------------------------------------------- helpers


def _cells(stem: str) -> dict[str, str]:
    """Sources of the code cells of solutions/<stem>.ipynb by cell id, hidden-test blocks cut off."""
    notebook = read_notebook(SOLUTIONS / f"{stem}.ipynb")
    return {
        cell.get("id"): cell.source.split("### BEGIN HIDDEN TESTS")[0]
        for cell in notebook.cells
        if cell.cell_type == "code"
    }


def _run_cells(stem: str, ids: list[str]) -> dict[str, Any]:
    """Execute the given solution cells, in order, in one fresh namespace (graded code as the notebook has it)."""
    cells, namespace = _cells(stem), {"__name__": f"solution_{stem[:2]}"}
    for cell_id in ids:
        exec(compile(cells[cell_id], f"<{stem} cell {cell_id}>", "exec"), namespace)
    return namespace


def _capped_fit(fit: Callable[..., Any]) -> Callable[..., Any]:
    """`fit` that obeys COURSE_TRAIN_CAP's epoch cap at call time (as course_lib's fit does once it applies it)."""

    @functools.wraps(fit)
    def capped(*args: Any, num_epochs: int, **kwargs: Any) -> Any:
        cap = cl.env.train_cap()
        return fit(*args, num_epochs=num_epochs if cap is None else min(num_epochs, cap.epochs), **kwargs)

    return capped


def _result(stem: str, namespace: dict, test: str):
    """The Result of one hidden test run on the functions in `namespace`."""
    grade_id = next(t.grade_id for t in load_suite(stem).tests if t.name == test)
    return next(r for r in run_suite(stem, LocalStudent(namespace), {grade_id}) if r.test == test)


# ----------------------------------------------------------------------------------------- G2: fp16 Gumbel gate


def test_solution_gate_is_finite_for_float16_logits_and_a_zero_draw() -> None:
    gate = _run_cells(GATE_STEM, ["04-03", "04-09"])["st_gumbel_gate"]
    probes = content.load(GATE_STEM, "probes")
    logits = (torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 2).half().requires_grad_(True)
    with probes.zero_uniform_draws():
        assert float(torch.rand(3).abs().sum()) == 0.0  # the probe really forces u = 0
        out = gate(logits, tau=1.0, training=True)
    assert torch.rand(1000).abs().sum() > 0  # and puts torch.rand back
    assert torch.isfinite(out).all(), "the solution's gate is NaN for float16 logits and u = 0"
    assert ((out == 0) | (out == 1)).all()
    out.float().sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_solution_gate_passes_the_hidden_float16_test() -> None:
    namespace = reference_namespace(GATE_STEM)
    namespace["st_gumbel_gate"] = _run_cells(GATE_STEM, ["04-03", "04-09"])["st_gumbel_gate"]
    result = _result(GATE_STEM, namespace, "gumbel_finite_in_float16")
    assert result.state == "passed", result.message


def test_gated_training_step_under_float16_autocast_keeps_batchnorm_finite() -> None:
    """The failure as a GPU shows it: one u = 0 under fp16 autocast poisons the BatchNorm running statistics."""
    ns = _run_cells(GATE_STEM, ["04-03", "04-09", "04-12", "04-15", "04-18", "04-21"])
    torch.manual_seed(0)
    base = cl.models.ResNet(10, 3, base_width=8, blocks_per_stage=(1, 1, 1))
    model = ns["GatedResNet"](base).train()
    x, y = torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,))
    probes = content.load(GATE_STEM, "probes")
    with probes.zero_uniform_draws(), torch.autocast("cpu", dtype=torch.float16):
        logits, gates = model(x)
        loss = ns["aig_loss"](0.5, 2.0)((logits, gates), y)
    assert torch.isfinite(gates).all() and torch.isfinite(loss), "NaN gates or loss under fp16 autocast"
    bad = [name for name, buf in model.named_buffers() if buf.is_floating_point() and not torch.isfinite(buf).all()]
    assert not bad, f"BatchNorm statistics poisoned by NaN: {bad}"


def test_zero_draw_probe_restores_torch() -> None:
    probes = content.load(GATE_STEM, "probes")
    before = (torch.rand, torch.rand_like, torch.Tensor.uniform_, "uniform_" in torch.Tensor.__dict__)
    with pytest.raises(RuntimeError):
        with probes.zero_uniform_draws():
            assert float(torch.empty(4).uniform_(0.25, 1.0).min()) == 0.25  # the lowest value of U(0.25, 1)
            assert float(torch.rand_like(torch.ones(3)).sum()) == 0.0
            raise RuntimeError("the student's gate raised")
    assert (torch.rand, torch.rand_like, torch.Tensor.uniform_, "uniform_" in torch.Tensor.__dict__) == before


# ----------------------------------------------------------------------------------------- G3: timing

_TIMERS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time", "time", "time_ns"}


def _code(source: str) -> ast.Module:
    """Parse a notebook cell, IPython magics and shell lines commented out."""
    lines = ["# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def timing_problems(source: str) -> list[str]:
    """What in one cell times work outside cl.timing.median_times, or calls it without `sync=`."""
    problems = []
    for node in ast.walk(_code(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "timeit"):
            problems.append(f"line {node.lineno}: imports a timer from {node.module}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id == "time" and node.attr in _TIMERS) or node.value.id == "timeit":
                problems.append(f"line {node.lineno}: times with {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "median_times" and not any(k.arg == "sync" for k in node.keywords):
                problems.append(f"line {node.lineno}: median_times(...) without sync=")
    if re.search(r"^\s*%%?timeit", source, re.MULTILINE):
        problems.append("uses the %timeit magic")
    return problems


def test_timing_scan_finds_unsynchronised_timers() -> None:
    assert timing_problems("import time\nt = time.perf_counter()\n")
    assert timing_problems("from time import perf_counter\n")
    assert timing_problems("cl.timing.median_times({'a': f}, repeats=3)\n")
    assert timing_problems("%timeit f()\n")
    assert not timing_problems("s = cl.timing.median_times({'a': f}, sync=cl.timing.device_sync(d))\n")


@pytest.mark.parametrize("stem", sorted(p.stem for p in SOLUTIONS.glob("[0-9][0-9]_*.ipynb")))
def test_solutions_time_only_through_median_times_with_sync(stem: str) -> None:
    """GPU work is asynchronous: a timer without a device sync stops when work is queued, not done (G3)."""
    problems = [f"cell {cid}, {p}" for cid, src in _cells(stem).items() for p in timing_problems(src)]
    assert not problems, (
        f"solutions/{stem}.ipynb times work without a device sync: {problems}. Time with "
        f"cl.timing.median_times({{...}}, sync=cl.timing.device_sync(<device of the timed model>))."
    )


def test_device_sync_is_a_no_op_on_the_cpu() -> None:
    for device in (None, "cpu", torch.device("cpu")):
        sync = cl.timing.device_sync(device)
        assert callable(sync) and sync() is None


def test_device_sync_waits_for_cuda_and_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("cuda", device)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append(("mps", None)))
    cl.timing.device_sync("cuda:1")()
    cl.timing.device_sync(torch.device("mps"))()
    assert calls == [("cuda", torch.device("cuda:1")), ("mps", None)]
    times = cl.timing.median_times({"a": lambda: None}, repeats=2, sync=cl.timing.device_sync("cuda"))
    assert set(times) == {"a"} and len(calls) == 2 + 3  # one sync after the warm-up and after each run


def test_describe_device_names_what_was_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cl.timing.describe_device("cpu").startswith("CPU (")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: "Tesla T4")
    assert cl.timing.describe_device("cuda") == "GPU (Tesla T4)"
    with pytest.raises(ValueError, match="device must be"):
        cl.timing.device_sync("not-a-device")


# ----------------------------------------------------------------------------------------- G4: same-seed checks


def _noisy(train: Callable[..., Any], scale: float, seed_shift: int = 0) -> Callable[..., Any]:
    """train_exit_model whose weights get fresh random noise of relative size `scale` after every call."""
    noise = torch.Generator().manual_seed(random.SystemRandom().randrange(2**31))  # differs per call, like CUDA

    def train_exit_model(loss_fn, config, splits, arch, seed, *args: Any, **kwargs: Any):
        model, history = train(loss_fn, config, splits, arch, seed + seed_shift, *args, **kwargs)
        with torch.no_grad():
            for value in model.state_dict().values():
                if value.is_floating_point():
                    value.add_(value.abs() * scale * torch.randn(value.shape, generator=noise))
        return model, history

    return train_exit_model


def test_same_seed_check_accepts_gpu_like_last_bit_noise() -> None:
    namespace = reference_namespace(DISTILL_STEM)
    namespace["train_exit_model"] = _noisy(namespace["train_exit_model"], scale=2e-6)
    result = _result(DISTILL_STEM, namespace, "train_fresh_seeded_model")
    assert result.state == "passed", result.message


@pytest.mark.parametrize("scale,seed_shift", [(1e-3, 0), (2e-6, 1)], ids=["visible noise", "another seed"])
def test_same_seed_check_still_rejects_real_differences(scale: float, seed_shift: int) -> None:
    namespace = reference_namespace(DISTILL_STEM)
    reference = namespace["train_exit_model"]
    calls = iter([0, seed_shift, 0, 0])  # the second same-seed run comes from another seed (4 runs: 05 tests.py)

    def train_exit_model(*args: Any, **kwargs: Any):
        return _noisy(reference, scale, next(calls))(*args, **kwargs)

    namespace["train_exit_model"] = train_exit_model
    result = _result(DISTILL_STEM, namespace, "train_fresh_seeded_model")
    assert result.state == "failed", f"{result.state}: {result.message}"


def test_training_probe_trains_without_amp_and_restores_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fit, seen = cl.training.fit, []

    def fit_with_amp_switch(*args: Any, amp: str = "auto", **kwargs: Any):
        seen.append(amp)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(cl.training, "fit", fit_with_amp_switch)
    flags = (
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
    )
    result = _result(DISTILL_STEM, reference_namespace(DISTILL_STEM), "train_fresh_seeded_model")
    assert result.state == "passed", result.message
    assert seen and set(seen) == {"off"}
    assert cl.training.fit is fit_with_amp_switch
    assert (
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
    ) == flags


def test_05_visible_training_check_accepts_a_capped_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """At COURSE_TRAIN_CAP=1:3 (the full-size smoke test) every fit runs one epoch; the visible check must allow it."""
    monkeypatch.setenv("COURSE_TRAIN_CAP", "1:3")
    monkeypatch.setattr(cl.training, "fit", _capped_fit(cl.training.fit))
    _run_cells(DISTILL_STEM, ["05-03", "05-05", "05-14", "05-15"])


def test_reproducible_training_leaves_a_fit_without_the_switch_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where fit has no amp= switch (an older course_lib) the probe calls it as it is, and restores everything."""
    probes = content.load(DISTILL_STEM, "probes")

    def fit_without_switch(model, loader, *, num_epochs: int, **kwargs: Any) -> list:
        return []

    monkeypatch.setattr(cl.training, "fit", fit_without_switch)
    with probes.reproducible_training():
        assert cl.training.fit is fit_without_switch
        assert torch.backends.cudnn.deterministic and torch.are_deterministic_algorithms_enabled()
    assert cl.training.fit is fit_without_switch


# ----------------------------------------------------------------------------------------- K2: numpy range

# Names in numpy 2.x's namespace that numpy 1.26 lacks, and names of numpy 1.26 that numpy 2.x removed
# (taken from dir(numpy) of numpy 1.26.4 and 2.4; pyproject.toml allows numpy>=1.26).
NOT_IN_NUMPY_1_26 = {
    "acos",
    "acosh",
    "asin",
    "asinh",
    "astype",
    "atan",
    "atan2",
    "atanh",
    "bitwise_count",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "bool",
    "concat",
    "cumulative_prod",
    "cumulative_sum",
    "isdtype",
    "long",
    "matrix_transpose",
    "matvec",
    "permute_dims",
    "pow",
    "trapezoid",
    "ulong",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unstack",
    "vecdot",
    "vecmat",
}
GONE_IN_NUMPY_2 = {
    "Inf",
    "Infinity",
    "NaN",
    "NINF",
    "NZERO",
    "PINF",
    "PZERO",
    "alltrue",
    "asfarray",
    "byte_bounds",
    "cast",
    "cfloat",
    "clongfloat",
    "compare_chararrays",
    "complex_",
    "cumproduct",
    "deprecate",
    "disp",
    "fastCopyAndTranspose",
    "find_common_type",
    "float_",
    "format_parser",
    "in1d",
    "infty",
    "issctype",
    "issubclass_",
    "longcomplex",
    "longfloat",
    "lookfor",
    "mat",
    "maximum_sctype",
    "msort",
    "obj2sctype",
    "product",
    "recfromcsv",
    "recfromtxt",
    "round_",
    "safe_eval",
    "sctype2char",
    "sctypes",
    "set_string_function",
    "singlecomplex",
    "sometrue",
    "string_",
    "trapz",
    "unicode_",
    "who",
}


def numpy_range_problems(source: str) -> list[str]:
    """numpy names in `source` that one end of numpy >= 1.26 lacks (np.trapezoid, np.float_, ...)."""
    tree = _code(source)
    aliases = {"np", "numpy"} | {
        a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name == "numpy"
    }  # notebooks import in another cell
    bad = NOT_IN_NUMPY_1_26 | GONE_IN_NUMPY_2
    problems = [
        f"line {n.lineno}: numpy.{a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "numpy"
        for a in n.names
        if a.name in bad
    ]
    problems += [
        f"line {n.lineno}: {n.value.id}.{n.attr}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases and n.attr in bad
    ]
    return problems


def _python_sources() -> Iterator[tuple[str, str]]:
    for folder in ("course_lib", "autograder", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                yield f"{path.relative_to(ROOT)} cell {cell.get('id')}", "".join(cell["source"])


def test_numpy_scan_finds_names_outside_the_range() -> None:
    assert numpy_range_problems("import numpy as np\nnp.trapezoid(y, x)\n")
    assert numpy_range_problems("import numpy\nx = numpy.float_(1)\n")
    assert numpy_range_problems("area = np.trapezoid(envelope, grid)\n")  # np imported in an earlier cell
    assert numpy_range_problems("from numpy import trapz\n")
    assert not numpy_range_problems("import numpy as np\nnp.sum(np.diff(x))\n")


def test_code_uses_numpy_names_that_every_allowed_numpy_has() -> None:
    problems = [f"{where}: {p}" for where, source in _python_sources() for p in numpy_range_problems(source)]
    assert not problems, (
        "numpy names missing from numpy 1.26 or removed in numpy 2 (pyproject allows "
        f"numpy>=1.26): {problems}. Write them out or use scipy (e.g. scipy.integrate.trapezoid)."
    )
