"""Unit tests of course_lib: cost accounting, data, models, training cache, checks, env."""

from __future__ import annotations

import inspect
import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import course_lib as cl
from course_lib import cost, data, env, models, training


def tiny_exit_model() -> models.EarlyExitResNet:
    torch.manual_seed(0)
    return models.EarlyExitResNet(
        num_classes=3, in_channels=1, base_width=2, blocks_per_stage=(1, 1), stage_strides=(2, 2)
    )


# ----------------------------------------------------------------------------------------- cost


def hand_count_tiny() -> list[int]:
    """Hand count for tiny_exit_model on a 1x8x8 input (conv + linear MACs only)."""
    stem = 2 * 8 * 8 * 1 * 9  # 1->2, 3x3, 8x8 output
    stage1 = 2 * 4 * 4 * 2 * 9 + 2 * 4 * 4 * 2 * 9 + 2 * 4 * 4 * 2  # conv s2, conv, 1x1 shortcut (4x4 out)
    head1 = (2 * 4 * 4) * 3  # pool to 4x4, linear 32 -> 3
    stage2 = 4 * 2 * 2 * 2 * 9 + 4 * 2 * 2 * 4 * 9 + 4 * 2 * 2 * 2  # 2->4 s2 (2x2 out), 4->4, shortcut
    final = 4 * 3  # GAP + linear 4 -> 3
    return [stem + stage1 + head1, stem + stage1 + head1 + stage2 + final]


def test_exit_costs_equal_hand_count() -> None:
    assert cost.exit_costs(tiny_exit_model(), (1, 8, 8)) == hand_count_tiny()


def test_exit_costs_agree_with_flop_counter() -> None:
    """torch's FlopCounterMode counts conv/mm FLOPs (2 per MAC) in eager mode: an independent counter."""
    model = tiny_exit_model().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 8, 8))
    assert counter.get_total_flops() // 2 == cost.exit_costs(model, (1, 8, 8))[-1]


def test_small_model_costs_increase_and_include_heads() -> None:
    model = models.EarlyExitResNet(**models.default_arch("small"))
    exits = cost.exit_costs(model, (1, 28, 28))
    parts = cost.block_costs(model, (1, 28, 28))
    assert all(a < b for a, b in itertools.pairwise(exits))
    # exit k = stem + blocks of stages 1..k + every head 1..k
    assert exits[0] == parts["stem"] + parts["blocks"][0] + parts["heads"][0]
    assert exits[-1] == parts["stem"] + sum(parts["blocks"]) + sum(parts["heads"])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.zeros(1, 1, 28, 28))
    assert counter.get_total_flops() // 2 == exits[-1]


def test_module_macs_independent_of_batch_and_mode() -> None:
    layer = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 2)
    )
    layer.train()
    macs = cost.module_macs(layer, torch.zeros(1, 3, 5, 5))
    assert macs == 4 * 25 * 3 * 9 + 100 * 2  # BN, ReLU not counted
    assert layer.training, "module_macs must restore train mode"


def test_exit_costs_rejects_plain_model() -> None:
    with pytest.raises(TypeError, match="EarlyExitResNet only"):
        cost.exit_costs(nn.Linear(2, 2), (1, 2, 2))


def test_exit_costs_measures_only_the_library_model() -> None:
    """Another early-exit network (here a ResNet with exits attached) is notebook 02's per_exit_costs' job."""
    model = models.ResNet(num_classes=3, in_channels=1, base_width=2, blocks_per_stage=(1, 1), stage_strides=(2, 2))
    model.exits = nn.ModuleList([models.PoolLinearHead(2, 3), model.classifier])
    with pytest.raises(TypeError, match="per_exit_costs"):
        cost.exit_costs(model, (1, 8, 8))


def test_early_exit_resnet_heads_are_fixed() -> None:
    """No head factory: the library's model is not a ready-made BranchyResNet with pluggable exit heads."""
    assert "head_factory" not in inspect.signature(models.EarlyExitResNet).parameters
    model = tiny_exit_model()
    assert all(isinstance(head, models.PoolLinearHead) for head in model.exits[:-1])


# ----------------------------------------------------------------------------------------- data


def test_embedded_dataset_contents() -> None:
    X, y = data.load_embedded_arrays()
    assert X.shape == (5000, 28, 28) and X.dtype == np.uint8
    assert np.array_equal(np.bincount(y), np.full(10, 500))
    splits = data.load_dataset("embedded")
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == data.EMBEDDED_SPLIT
    for X_split in (splits.X_train, splits.X_val, splits.X_test):
        assert X_split.dtype == torch.float32 and float(X_split.min()) >= 0.0 and float(X_split.max()) <= 1.0
    for y_split, per_class in ((splits.y_train, 350), (splits.y_val, 50), (splits.y_test, 100)):
        assert torch.bincount(y_split).tolist() == [per_class] * 10


def test_splits_disjoint_and_reproducible() -> None:
    a, b = data.load_dataset("embedded"), data.load_dataset("embedded")
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    rows = lambda X: {bytes(img.numpy().tobytes()) for img in (X * 255).round().to(torch.uint8)}  # noqa: E731
    train, val, test = rows(a.X_train), rows(a.X_val), rows(a.X_test)
    # MNIST contains a few duplicated images; the index sets are disjoint by construction, so any
    # overlap in pixel content must be tiny.
    assert len(train & test) <= 5 and len(train & val) <= 5 and len(val & test) <= 5
    idx = data._stratified_split(data.load_embedded_arrays()[1], data.EMBEDDED_SPLIT, data.SPLIT_SEED)
    assert not (set(idx[0]) & set(idx[1])) and not (set(idx[0]) & set(idx[2])) and not (set(idx[1]) & set(idx[2]))


def test_embedded_loads_fast() -> None:
    import time

    start = time.perf_counter()
    data.load_dataset("embedded")
    assert time.perf_counter() - start < 2.0  # well under a second on a quiet machine


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="Unknown dataset 'imagenet'.*embedded"):
        data.load_dataset("imagenet")


def test_offline_download_says_what_to_do(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(data.DatasetUnavailableError, match="embedded"):
        data.load_dataset("fashion_mnist")


def test_library_does_not_import_torchvision_at_import_time() -> None:
    code = "import sys, course_lib; import course_lib.data, course_lib.models; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------------------- models


def test_early_exit_forward_returns_all_exits() -> None:
    model = models.EarlyExitResNet(**models.default_arch("small"))
    outs = model(torch.randn(5, 1, 28, 28))
    assert isinstance(outs, list) and len(outs) == 3 and all(o.shape == (5, 10) for o in outs)
    assert model.num_exits == 3


def test_width_knob_scales_channels() -> None:
    narrow = models.ResNet(base_width=8)
    wide = models.ResNet(base_width=32)
    assert narrow.widths == (8, 16, 32) and wide.widths == (32, 64, 128)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(wide) > 10 * count(narrow)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(1, 28, 28), "batch of shape"),
        (torch.randn(2, 3, 28, 28), "batch of shape"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "float images"),
    ],
)
def test_models_reject_bad_inputs(bad, message) -> None:
    for model in (models.ResNet(), models.EarlyExitResNet()):
        with pytest.raises((ValueError, TypeError), match=message):
            model(bad)


def test_full_arch_is_resnet20() -> None:
    model = models.ResNet(in_channels=3, **models.default_arch("full"))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == 20  # 19 3x3 convs + the final linear layer


def test_strided_stem_halves_the_first_maps_and_cuts_stem_cost() -> None:
    plain = models.EarlyExitResNet(base_width=8, stage_strides=(2, 2, 2))
    strided = models.EarlyExitResNet(base_width=8, stage_strides=(1, 2, 2), stem_stride=2)
    x = torch.randn(2, 1, 28, 28)
    assert plain.stem(x).shape[-1] == 28 and strided.stem(x).shape[-1] == 14
    # same map size after every stage, so the exits see the same resolutions
    for a, b in zip(plain(x), strided(x), strict=True):
        assert a.shape == b.shape == (2, 10)
    parts_plain = cost.block_costs(plain, (1, 28, 28))
    parts_strided = cost.block_costs(strided, (1, 28, 28))
    assert parts_strided["stem"] * 4 == parts_plain["stem"]
    with pytest.raises(ValueError, match="stem_stride"):
        models.ResNet(stem_stride=3)


# ----------------------------------------------------------------------------------------- training


def _tiny_loaders():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(64, 1, 8, 8, generator=g)
    y = (X.mean(dim=(1, 2, 3)) > 0.5).long()
    ds = torch.utils.data.TensorDataset(X, y)
    return torch.utils.data.DataLoader(ds, batch_size=16), torch.utils.data.DataLoader(ds, batch_size=64)


def _loss(outputs, y):
    return sum(torch.nn.functional.cross_entropy(o, y) for o in outputs)


def test_fit_caches_and_reuses(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    train, val = _tiny_loaders()
    config = {"name": "tiny", "seed": 0}
    model = tiny_exit_model()
    history = training.fit(
        model, train, num_epochs=2, lr=0.05, loss_fn=_loss, val_loader=val, augment=None, config=config, device="cpu"
    )
    assert len(history) == 2 and len(history[0]["val_acc"]) == 2
    files = list(tmp_path.glob("tiny-*.pt"))
    assert len(files) == 1
    fresh = tiny_exit_model()
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(1.0)
    again = training.fit(fresh, train, num_epochs=2, lr=0.05, loss_fn=_loss, augment=None, config=config, device="cpu")
    assert "loaded cached weights" in capsys.readouterr().out
    assert again == history
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # a different config trains anew
    training.fit(
        tiny_exit_model(),
        train,
        num_epochs=1,
        lr=0.05,
        loss_fn=_loss,
        augment=None,
        config={"name": "tiny", "seed": 1},
        device="cpu",
    )
    assert len(list(tmp_path.glob("tiny-*.pt"))) == 2


def test_fit_rejects_corrupt_and_mismatched_checkpoints(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    train, _ = _tiny_loaders()
    config = {"name": "tiny", "seed": 0}
    training.fit(
        tiny_exit_model(), train, num_epochs=1, lr=0.05, loss_fn=_loss, augment=None, config=config, device="cpu"
    )
    (path,) = tmp_path.glob("tiny-*.pt")
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(RuntimeWarning, match="unusable"):
        training.fit(
            tiny_exit_model(), train, num_epochs=1, lr=0.05, loss_fn=_loss, augment=None, config=config, device="cpu"
        )
    assert torch.load(path, weights_only=True)["key"]  # retrained and rewritten
    # a checkpoint whose stored key differs (e.g. copied from another config) is rejected too
    ckpt = torch.load(path, weights_only=True)
    ckpt["key"] = "0" * 64
    torch.save(ckpt, path)
    with pytest.warns(RuntimeWarning, match="does not match"):
        training.fit(
            tiny_exit_model(), train, num_epochs=1, lr=0.05, loss_fn=_loss, augment=None, config=config, device="cpu"
        )


def test_random_shift_keeps_shape_and_content() -> None:
    X = torch.zeros(4, 1, 10, 10)
    X[:, :, 4:6, 4:6] = 1.0
    out = training.random_shift(X, max_shift=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == X.shape and torch.allclose(out.sum(dim=(1, 2, 3)), X.sum(dim=(1, 2, 3)))


# ----------------------------------------------------------------------------------------- env and checks


def test_run_size_switch(monkeypatch) -> None:
    monkeypatch.setenv(env.SIZE_ENV_VAR, "full")
    assert env.pick(small=1, full=2) == 2
    monkeypatch.setenv(env.SIZE_ENV_VAR, "huge")
    with pytest.raises(ValueError, match="COURSE_SIZE"):
        env.run_size()


def test_setup_notebook_version_check() -> None:
    with pytest.raises(env.VersionMismatchError, match="Reinstall"):
        env.setup_notebook("00_orientation", expected_version="9.9.9")


def test_checks_messages(capsys) -> None:
    cl.checks.check_close(torch.ones(3), np.ones(3), "x")
    assert "max abs difference" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="max abs difference 0.5"):
        cl.checks.check_close(torch.ones(3), torch.tensor([1.0, 1.5, 1.0]), "x")
    with pytest.raises(AssertionError, match=r"shape \(2, None\)"):
        cl.checks.check_shape(torch.ones(3, 2), (2, None), "x")
    cl.checks.passed("demo")
    assert "hidden tests run at grading" in capsys.readouterr().out


def test_random_shift_returns_standard_strides() -> None:
    """A permuted view with odd strides crashed CPU conv backward in torch 2.15; the output must be plain."""
    for channels in (1, 3):
        out = training.random_shift(torch.rand(4, channels, 12, 12), flip=channels == 3)
        assert out.stride() == torch.empty(4, channels, 12, 12).stride()


# ----------------------------------------------------------------------------------------- timing


def test_median_times_alternates_and_measures() -> None:
    import time

    calls: list[str] = []
    candidates = {"slow": lambda: (calls.append("slow"), time.sleep(0.02)), "fast": lambda: calls.append("fast")}
    times = cl.timing.median_times(candidates, repeats=3)
    assert calls == ["slow", "fast"] * 4  # one warm-up round, then 3 alternating rounds
    assert set(times) == {"slow", "fast"}
    assert times["slow"] >= 0.02 and 0 <= times["fast"] < times["slow"]
    synced: list[int] = []
    cl.timing.median_times({"a": lambda: None}, repeats=2, sync=lambda: synced.append(1))
    assert len(synced) == 3
    with pytest.raises(ValueError, match="at least one"):
        cl.timing.median_times({})
    with pytest.raises(ValueError, match="repeats"):
        cl.timing.median_times({"a": lambda: None}, repeats=0)
