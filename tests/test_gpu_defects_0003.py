"""GPU and full-size defects of notebooks 00-03 that a CPU can show (issue 15, review findings G1 and G8).

G1: a visible check compared the state of a model that `fit` had left on the GPU with a CPU snapshot, and
torch.equal refuses two devices. A CPU has no second device, so these tests stand one in: after `fit`, the
model's parameters and buffers become `OtherDeviceTensor`s, which hold their data on the CPU but refuse,
as CUDA does, any op that mixes them with a CPU tensor; `.cpu()` and `.to("cpu")` give plain CPU tensors.
G8: notebook 03 must compute its logits on the training device and time only a subset at the full size.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import torch
from torch import nn

import course_lib
from autograder.release import BEGIN_HIDDEN, is_solution_cell, is_test_cell, nbgrader_meta, read_notebook

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
    def __torch_function__(cls, func: Callable, types: Iterable[type], args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.cpu or (func is torch.Tensor.to and _moves_to_cpu(args[1:], kwargs)):
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs).as_subclass(torch.Tensor)
        if func is torch.Tensor.numpy:
            raise TypeError("can't convert a tensor on another device to numpy: use Tensor.cpu() first.")
        tensors = list(_tensors((args, kwargs)))
        if any(isinstance(t, cls) for t in tensors) and any(
                not isinstance(t, cls) and t.ndim > 0 for t in tensors):
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
                sub._parameters[name] = nn.Parameter(param.detach().as_subclass(OtherDeviceTensor),
                                                     requires_grad=param.requires_grad)
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


def test_other_device_stand_in_refuses_what_cuda_refuses() -> None:
    """The stand-in catches G1's pattern: torch.equal of a moved state with a CPU snapshot raises."""
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


@pytest.mark.parametrize("stem, check_id", sorted(TRAINING_CHECKS))
def test_training_check_runs_with_the_model_on_another_device(stem: str, check_id: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """G1: the visible check passes when `fit` leaves the model on another device (as on a GPU)."""
    namespace = run_training_check(ROOT / "solutions" / f"{stem}.ipynb", check_id, monkeypatch)
    assert namespace["_moved"], f"{check_id} did not train through cl.training.fit: nothing was moved"
    assert all(_on_other_device(m) for m in namespace["_moved"])


_TRAINING_CALL = re.compile(r"(?<![\w.])fit\(|cl\.training\.fit\(|(?<![\w.])train_\w+\(")


@pytest.mark.parametrize("stem", STEMS)
def test_every_visible_check_that_trains_is_run_on_another_device(stem: str) -> None:
    """A new visible check in 00-03 that trains a model must join TRAINING_CHECKS (and so the test above)."""
    nb = read_notebook(ROOT / "solutions" / f"{stem}.ipynb")
    training = {(stem, nbgrader_meta(c)["grade_id"]) for c in nb.cells
                if c.cell_type == "code" and is_test_cell(c) and _TRAINING_CALL.search(_visible(c.source))}
    assert training == {key for key in TRAINING_CHECKS if key[0] == stem}
