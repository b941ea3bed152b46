"""fit's slow-epoch note: one line when an epoch takes several times its expected time, never for normal noise."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import training
from course_lib.training import slow_epoch_note


def test_normal_noise_and_warm_up_get_no_note() -> None:
    # a slow first epoch (warm-up), then epochs within 1.6x of each other: no prefix is flagged
    noisy = [6.0, 2.0, 2.4, 1.8, 2.9, 2.2, 3.1, 2.0]
    assert [slow_epoch_note(noisy[:n]) for n in range(len(noisy) + 1)] == [None] * (len(noisy) + 1)
    # short epochs vary a lot relatively; under SLOW_EPOCH_MIN_EXTRA_S more they never count
    assert slow_epoch_note([0.3, 0.05, 0.04, 0.2]) is None
    # the first epoch alone has nothing to be compared with
    assert slow_epoch_note([40.0]) is None


def test_a_slow_epoch_is_judged_against_the_earlier_ones_after_the_first() -> None:
    note = slow_epoch_note([2.0, 1.0, 1.2, 3.9])
    assert note is not None and note.startswith("note: epoch 4 took 3.9 s, 3.5x the earlier epochs (1.1 s)")
    assert "CPU cores are probably shared with another job" in note and "assume free cores" in note
    # the warm-up epoch (8 s) does not enter the median, so a 9 s epoch after a 1 s one is slow
    assert slow_epoch_note([8.0, 1.0, 9.0]) is not None
    # the second epoch is compared with the first: a warm-up longer than it is no reason for a note
    assert slow_epoch_note([3.0, 2.5]) is None
    assert slow_epoch_note([1.0, 3.5]) is not None
    assert "GPU or the CPU cores" in (slow_epoch_note([1.0, 3.5], device_type="cuda") or "")


def test_an_expected_epoch_time_judges_every_epoch() -> None:
    note = slow_epoch_note([9.8], expected_epoch_s=2.7)
    assert note is not None and "epoch 1 took 9.8 s, 3.6x the expected 2.7 s" in note
    # the expected time replaces the earlier epochs: 7.0 s is 7x them, but only 2.6x the expected 2.7 s
    assert slow_epoch_note([9.8, 1.0, 1.0, 7.0], expected_epoch_s=2.7) is None
    assert slow_epoch_note([1.0, 1.0, 1.0, 8.2], expected_epoch_s=2.7) is not None  # 3.04x
    assert slow_epoch_note([2.0, 2.5, 3.0], expected_epoch_s=2.7) is None


class FakeClock:
    """A perf_counter that moves only when the model runs a training forward: `seconds[k]` for epoch k + 1."""

    def __init__(self, seconds: list[float], steps_per_epoch: int) -> None:
        self.now, self.calls, self.seconds, self.steps = 0.0, 0, seconds, steps_per_epoch

    def perf_counter(self) -> float:
        return self.now

    def advance(self, module: nn.Module, args: tuple) -> None:
        if module.training:
            self.now += self.seconds[self.calls // self.steps] / self.steps
            self.calls += 1


def _fit(clock: FakeClock | None, monkeypatch: pytest.MonkeyPatch, tmp_path, **kwargs) -> list[dict]:
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_TRAIN_CAP", raising=False)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    g = torch.Generator().manual_seed(1)
    X, y = torch.rand(32, 1, 4, 4, generator=g), torch.randint(0, 3, (32,), generator=g)
    loader = DataLoader(TensorDataset(X, y), batch_size=8)
    if clock is not None:
        monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
        model.register_forward_pre_hook(clock.advance)
    return training.fit(model, loader, num_epochs=5, lr=0.05, augment=None, device="cpu", **kwargs)


def test_fit_prints_the_note_once_and_computes_the_same(monkeypatch, tmp_path, capsys) -> None:
    clock = FakeClock([2.0, 1.0, 1.0, 5.0, 6.0], steps_per_epoch=4)
    history = _fit(clock, monkeypatch, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    notes = [line for line in lines if "note: epoch" in line]
    assert notes == [
        "[train] note: epoch 4 took 5.0 s, 5.0x the earlier epochs (1.0 s): the CPU cores are probably shared "
        "with another job; the run times this notebook states assume free cores."
    ]
    assert sum(line.startswith("[train] epoch ") for line in lines) == 5  # one summary line per epoch still
    assert lines.index(notes[0]) == 4  # right after epoch 4's summary
    assert [round(r["seconds"], 6) for r in history] == [2.0, 1.0, 1.0, 5.0, 6.0]
    monkeypatch.undo()
    plain = _fit(None, monkeypatch, tmp_path / "plain", verbose=False)
    assert [r["train_loss"] for r in plain] == [r["train_loss"] for r in history]
    assert "note:" not in capsys.readouterr().out


def test_fit_uses_the_expected_epoch_time(monkeypatch, tmp_path, capsys) -> None:
    clock = FakeClock([4.0, 4.0, 4.0, 4.0, 4.0], steps_per_epoch=4)
    _fit(clock, monkeypatch, tmp_path, expected_epoch_s=1.0)
    notes = [line for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert len(notes) == 1 and "epoch 1 took 4.0 s, 4.0x the expected 1.0 s" in notes[0]
