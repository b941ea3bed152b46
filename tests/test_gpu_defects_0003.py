"""GPU and full-size defects of notebooks 00-03 that a CPU can show (issue 15, review findings G1 and G8).

G1: a visible check compared the state of a model that `fit` had left on the GPU with a CPU snapshot, and
torch.equal refuses two devices. A CPU has no second device, so these tests stand one in: after `fit`, the
model's parameters and buffers become `OtherDeviceTensor`s, which hold their data on the CPU but refuse,
as CUDA does, any op that mixes them with a CPU tensor; `.cpu()` and `.to("cpu")` give plain CPU tensors.
G8: notebook 03 must compute its logits on the training device and time only a subset at the full size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import course_lib
from autograder.tools.release import BEGIN_HIDDEN, is_solution_cell, is_test_cell, nbgrader_meta, read_notebook

ROOT = Path(__file__).resolve().parent.parent
STEMS = ("00_orientation", "01_prediction_depth", "02_branchynet", "03_early_exit")
# Visible checks that train a model (so the model may end on a GPU), each run below with the model on another device.
TRAINING_CHECKS = {("02_branchynet", "test_train_early_exit")}
MIXED_DEVICES = "Expected all tensors to be on the same device"


class OtherDeviceTensor(torch.Tensor):
    """A CPU tensor standing in for one on another device: mixing it with a CPU tensor of 1+ dims raises.

    0-dim CPU tensors may mix (CUDA accepts them as scalars), `.cpu()` / `.to("cpu")` return plain CPU
    tensors, and `.numpy()` raises as for a CUDA tensor. `.device` still reads cpu, so code that moves its
    inputs to a parameter's device is not modelled; the stand-in is for checks that compare states.
    """

    @classmethod
    def __torch_function__(
        cls, func: Callable, types: Iterable[type], args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.cpu or (func is torch.Tensor.to and _moves_to_cpu(args[1:], kwargs)):
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs).as_subclass(torch.Tensor)
        if func is torch.Tensor.numpy:
            raise TypeError("can't convert a tensor on another device to numpy: use Tensor.cpu() first.")
        tensors = list(_tensors((args, kwargs)))
        if any(isinstance(t, cls) for t in tensors) and any(not isinstance(t, cls) and t.ndim > 0 for t in tensors):
            raise RuntimeError(f"{MIXED_DEVICES}, but found at least two devices, other:0 and cpu!")
        return super().__torch_function__(func, types, args, kwargs)


def _moves_to_cpu(rest: tuple, kwargs: dict) -> bool:
    target = kwargs.get("device")
    if target is None and rest and isinstance(rest[0], (str, torch.device)):
        target = rest[0]
    return target is not None and torch.device(target).type == "cpu"


def _tensors(value: Any) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def move_to_other_device(module: nn.Module) -> None:
    """Turn every parameter and buffer of `module` into an OtherDeviceTensor (same data, in place)."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None:
                sub._parameters[name] = nn.Parameter(
                    param.detach().as_subclass(OtherDeviceTensor), requires_grad=param.requires_grad
                )
        for name, buffer in list(sub._buffers.items()):
            if buffer is not None:
                sub._buffers[name] = buffer.as_subclass(OtherDeviceTensor)


def _on_other_device(module: nn.Module) -> bool:
    return all(isinstance(t, OtherDeviceTensor) for t in module.state_dict().values())


def _visible(source: str) -> str:
    return source.split(BEGIN_HIDDEN)[0]


def run_training_check(notebook: Path, check_id: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Run a notebook's imports cell, its solution cells and one visible check, with `fit` ending off the CPU.

    Returns the namespace, with "_moved" holding the models that `fit` moved.
    """
    nb = read_notebook(notebook)
    real_fit = course_lib.training.fit
    moved: list[nn.Module] = []

    def fit_then_move(model: nn.Module, *args: Any, **kwargs: Any) -> list[dict]:
        history = real_fit(model, *args, **kwargs)
        move_to_other_device(model)
        moved.append(model)
        return history

    monkeypatch.setattr(course_lib.training, "fit", fit_then_move)
    namespace: dict = {"__name__": "__notebook__"}
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in cells:
        if nbgrader_meta(cell).get("grade_id") == "imports" or is_solution_cell(cell):
            exec(compile(cell.source, f"<{notebook.name}:{cell.get('id')}>", "exec"), namespace)
    check = [c for c in cells if nbgrader_meta(c).get("grade_id") == check_id]
    assert len(check) == 1, f"{notebook.name} has no single visible check {check_id!r}"
    exec(compile(_visible(check[0].source), f"<{notebook.name}:{check_id}>", "exec"), namespace)
    namespace["_moved"] = moved
    return namespace


def _assert_stand_in_refuses_mixed_devices() -> None:
    """The stand-in catches G1's pattern (torch.equal of a moved state with a CPU snapshot), as CUDA would."""
    layer = nn.Linear(3, 2)
    snapshot = {k: v.clone() for k, v in layer.state_dict().items()}
    move_to_other_device(layer)
    assert _on_other_device(layer)
    with pytest.raises(RuntimeError, match=MIXED_DEVICES):
        any(not torch.equal(v, snapshot[k]) for k, v in layer.state_dict().items())
    with pytest.raises(RuntimeError, match=MIXED_DEVICES):
        layer(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="numpy"):
        layer.weight.detach().numpy()
    on_cpu = layer.weight.detach().cpu()
    assert type(on_cpu) is torch.Tensor and torch.equal(on_cpu, snapshot["weight"])
    assert type(layer.weight.detach().to("cpu")) is torch.Tensor


def test_changed_tensors_compares_a_moved_model_on_the_cpu() -> None:
    """cl.checks.state_snapshot / changed_tensors work when the module moved to another device after the snapshot."""
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = course_lib.checks.state_snapshot(model)
    assert all(type(v) is torch.Tensor and v.device.type == "cpu" for v in before.values())
    move_to_other_device(model)
    assert course_lib.checks.changed_tensors(before, model) == []
    with torch.no_grad():
        model[0].bias.add_(1.0)
    assert course_lib.checks.changed_tensors(before, model) == ["0.bias"]
    assert course_lib.checks.changed_tensors({**before, "extra": torch.zeros(1)}, model) == ["0.bias", "extra"]
    with pytest.raises(TypeError, match="nn.Module"):
        course_lib.checks.changed_tensors(before, before)


_TRAINING_CALL = re.compile(r"(?<![\w.])fit\(|cl\.training\.fit\(|(?<![\w.])train_\w+\(")


def _training_checks() -> set[tuple[str, str]]:
    """(stem, grade_id) of every visible check in 00-03 that trains a model, found in the solution sources."""
    found = set()
    for stem in STEMS:
        for cell in read_notebook(ROOT / "solutions" / f"{stem}.ipynb").cells:
            if cell.cell_type == "code" and is_test_cell(cell) and _TRAINING_CALL.search(_visible(cell.source)):
                found.add((stem, nbgrader_meta(cell)["grade_id"]))
    return found


def test_visible_checks_that_train_pass_with_the_model_on_another_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """G1: every visible check of 00-03 that trains passes when `fit` leaves the model on another device."""
    _assert_stand_in_refuses_mixed_devices()
    checks = _training_checks()
    assert checks == TRAINING_CHECKS, "a visible check that trains was added or removed: update TRAINING_CHECKS"
    for stem, check_id in sorted(checks):
        with monkeypatch.context() as patch:
            namespace = run_training_check(ROOT / "solutions" / f"{stem}.ipynb", check_id, patch)
        assert namespace["_moved"], f"{stem} {check_id} did not train through cl.training.fit: nothing was moved"
        assert all(_on_other_device(m) for m in namespace["_moved"])


# ------------------------------------------------------------------------------------------------ G8: 03


def _code_cells(stem: str) -> list:
    return [c for c in read_notebook(ROOT / "solutions" / f"{stem}.ipynb").cells if c.cell_type == "code"]


def _run(cell: Any, namespace: dict) -> None:
    exec(compile(_visible(cell.source), f"<03_early_exit:{cell.get('id')}>", "exec"), namespace)


def test_03_computes_every_logit_on_the_training_device_before_the_cpu_move(monkeypatch: pytest.MonkeyPatch) -> None:
    """G8: train, val and test logits come from the training device; only then does the model go to the CPU."""
    training_device = torch.device("meta")  # stands in for the GPU: nothing below computes on it
    events: list[tuple] = []

    class RecordedModel(course_lib.models.EarlyExitResNet):
        def cpu(self) -> nn.Module:
            events.append(("to cpu",))
            return super().cpu()

        def to(self, *args: Any, **kwargs: Any) -> nn.Module:
            if _moves_to_cpu(args, kwargs):
                events.append(("to cpu",))
            return super().to(*args, **kwargs)

    def spy_logits(model: nn.Module, loader: Any, device: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        where = torch.device(device) if device is not None else course_lib.env.get_device(verbose=False)
        y = torch.cat([labels for _, labels in loader])
        events.append(("logits", len(y), where.type))
        return torch.zeros(len(model.exits), len(y), 10), y

    monkeypatch.setattr(course_lib.env, "get_device", lambda verbose=True: training_device)
    monkeypatch.setattr(course_lib.models, "EarlyExitResNet", RecordedModel)
    monkeypatch.setattr(course_lib.training, "fit", lambda model, *a, **k: [])
    monkeypatch.setattr(course_lib.training, "collect_logits", spy_logits)
    for name in course_lib.plots.__all__:
        monkeypatch.setattr(course_lib.plots, name, lambda *a, **k: None)
    namespace: dict = {"__name__": "__notebook__"}
    for cell in _code_cells("03_early_exit"):
        if nbgrader_meta(cell).get("grade_id") == "setup":
            continue
        assert not (is_solution_cell(cell) or is_test_cell(cell)), (
            "03 reaches its exercises without moving the model to the CPU"
        )
        _run(cell, namespace)
        if ("to cpu",) in events:
            break
    splits = namespace["splits"]
    before_move = events[: events.index(("to cpu",))]
    sizes = {len(splits.y_train), len(splits.y_val), len(splits.y_test)}
    assert {e[1] for e in before_move if e[0] == "logits"} == sizes, (
        f"logits of the train/val/test splits should be collected before the model moves to the CPU: {events}"
    )
    assert all(e[2] == training_device.type for e in events if e[0] == "logits"), (
        f"logits should be collected on the training device: {events}"
    )


class _CountingModel(nn.Module):
    """Counts the images it is called on; returns three exits of zero logits."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.seen += len(x)
        return [torch.zeros(len(x), 10)] * 3


def _images_timed(size: str, n_test: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run 03's timing cell at `size` on a stand-in split of n_test images; the images each contender ran on."""
    import types

    monkeypatch.setenv("COURSE_SIZE", size)
    cells = _code_cells("03_early_exit")
    timing = [c for c in cells if "median_times" in c.source and "run_early" in c.source]
    assert len(timing) == 1, "03 should have one timing cell (full network vs early exit)"
    namespace: dict = {"__name__": "__notebook__"}
    for cell in cells:
        if nbgrader_meta(cell).get("grade_id") == "imports" or is_solution_cell(cell):
            _run(cell, namespace)
    model = _CountingModel()
    early_seen = []
    namespace.update(
        splits=types.SimpleNamespace(
            X_test=torch.zeros(1, 3, 32, 32).expand(n_test, 3, 32, 32), y_test=torch.zeros(n_test, dtype=torch.long)
        ),
        model=model,
        test_logits=torch.zeros(3, n_test, 10),
        test_y=torch.zeros(n_test, dtype=torch.long),
        costs=[1.0, 2.0, 3.0],
        full_cost=3.0,
        chosen={"threshold": 0.1, "test_cost": 3.0},
        mac_ratio=1.0,
        early_exit_inference=lambda m, xb, threshold: early_seen.append(len(xb)),
    )

    def run_each_once(candidates: dict, repeats: int = 7, sync: Any = None) -> dict:
        for fn in candidates.values():
            fn()
        return {name: 1.0 for name in candidates}

    monkeypatch.setattr(course_lib.timing, "median_times", run_each_once)
    _run(timing[0], namespace)
    assert model.seen == sum(early_seen), "both contenders should be timed on the same images"
    return model.seen


def test_03_times_a_subset_of_the_test_split_at_the_full_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """G8: the CPU timing runs on at most 2,000 test images at the full size, on all of them at the small size."""
    assert _images_timed("full", 10_000, monkeypatch) == 2_000
    assert _images_timed("full", 300, monkeypatch) == 300
    assert _images_timed("small", 1_000, monkeypatch) == 1_000
