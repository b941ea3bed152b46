"""Tests of fit's switches (AMP, the smoke-test cap, the NaN guard, device batching, the fit log) and of the
torchvision datasets' file checks, split sizes and the synthetic files the full-size smoke test uses."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from course_lib import cost, data, env, models, training
from synthetic_datasets import write_cifar10, write_fashion_mnist


def tiny_model() -> models.EarlyExitResNet:
    torch.manual_seed(0)
    return models.EarlyExitResNet(
        num_classes=3, in_channels=1, base_width=2, blocks_per_stage=(1, 1), stage_strides=(2, 2)
    )


def tiny_loader(num_samples: int = 64, batch_size: int = 16, **kwargs) -> DataLoader:
    g = torch.Generator().manual_seed(1)
    X, y = torch.rand(num_samples, 1, 8, 8, generator=g), torch.randint(0, 3, (num_samples,), generator=g)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, **kwargs)


def exits_loss(outputs, y):
    return sum(F.cross_entropy(o, y) for o in outputs)


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """A fresh cache and data folder, and none of the switches under test set."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    for name in (env.TRAIN_CAP_ENV_VAR, training.FIT_LOG_ENV_VAR, data.SKIP_CHECKSUM_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


# ----------------------------------------------------------------------------------------- amp


def test_amp_modes_and_the_bf16_error(monkeypatch) -> None:
    assert training.amp_dtype("auto", "cpu") is None and training.amp_dtype("off", "cpu") is None
    assert training.amp_dtype("fp16", "cpu") == torch.float16
    assert training.amp_dtype("bf16", "cpu") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert training.amp_dtype("auto", "cuda") == torch.float16  # today's default on a GPU
    assert training.amp_dtype("off", "cuda") is None
    with pytest.raises(ValueError, match=r"amp='bf16' does not work on this cuda device.*'auto', 'off', 'fp16'"):
        training.amp_dtype("bf16", "cuda")
    with pytest.raises(ValueError, match="does not work on this mps device"):
        training.amp_dtype("bf16", "mps")
    with pytest.raises(ValueError, match="amp must be one of"):
        training.amp_dtype("fp8", "cpu")
    # fit refuses before it touches the (here absent) GPU
    with pytest.raises(ValueError, match="bf16"):
        training.fit(
            tiny_model(),
            tiny_loader(),
            num_epochs=1,
            lr=0.05,
            loss_fn=exits_loss,
            device="cuda",
            amp="bf16",
            verbose=False,
        )
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert training.amp_dtype("bf16", "cuda") == torch.bfloat16


def test_amp_enters_the_cache_key_only_when_not_auto(clean_env) -> None:
    loader, config = tiny_loader(), {"name": "tiny", "seed": 0}
    kwargs = dict(num_epochs=1, lr=0.05, loss_fn=exits_loss, augment=None, config=config, device="cpu", verbose=False)
    model = tiny_model()
    training.fit(model, loader, **kwargs)
    # 'auto' keeps the key of checkpoints cached before the switch existed
    old_key = training.config_key(
        dict(config, num_epochs=1, lr=0.05, optimizer="sgd", weight_decay=5e-4, augment=None, train_size=64), model
    )
    cache = clean_env / "cache"
    assert [p.name for p in cache.glob("tiny-*.pt")] == [f"tiny-{old_key[:16]}.pt"]
    history = training.fit(tiny_model(), loader, amp="bf16", **kwargs)
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
    training.fit(tiny_model(), loader, amp="off", **kwargs)
    assert len(list(cache.glob("tiny-*.pt"))) == 3


# ----------------------------------------------------------------------------------------- schedule and cap


def test_every_step_count_from_1_to_12_trains(clean_env) -> None:
    """OneCycleLR divided by zero at exactly 5 steps (K1)."""
    for steps in range(1, 13):
        history = training.fit(
            tiny_model(),
            tiny_loader(num_samples=2 * steps, batch_size=2),
            num_epochs=1,
            lr=0.05,
            loss_fn=exits_loss,
            augment=None,
            device="cpu",
            verbose=False,
        )
        assert len(history) == 1, steps


def test_train_cap_limits_epochs_steps_and_schedule(clean_env, monkeypatch, capsys) -> None:
    totals: list[int] = []
    one_cycle = torch.optim.lr_scheduler.OneCycleLR

    def recording_one_cycle(*args, **kwargs):
        totals.append(kwargs["total_steps"])
        return one_cycle(*args, **kwargs)

    monkeypatch.setattr(torch.optim.lr_scheduler, "OneCycleLR", recording_one_cycle)
    calls = []

    def counting_loss(outputs, y):
        calls.append(len(y))
        return exits_loss(outputs, y)

    monkeypatch.setenv(env.TRAIN_CAP_ENV_VAR, "2:3")
    config = {"name": "tiny", "seed": 0}
    loader = tiny_loader(num_samples=80)  # 5 batches
    history = training.fit(
        tiny_model(), loader, num_epochs=4, lr=0.05, loss_fn=counting_loss, augment=None, config=config, device="cpu"
    )
    assert [r["epoch"] for r in history] == [1, 2] and len(calls) == 6 and totals == [6]
    assert "COURSE_TRAIN_CAP=2:3" in capsys.readouterr().out
    # a run the cap does not cut keeps its epochs and steps, and prints nothing about the cap
    calls.clear()
    assert (
        len(
            training.fit(
                tiny_model(),
                tiny_loader(num_samples=32),
                num_epochs=1,
                lr=0.05,
                loss_fn=counting_loss,
                augment=None,
                device="cpu",
            )
        )
        == 1
    )
    assert len(calls) == 2 and "COURSE_TRAIN_CAP" not in capsys.readouterr().out
    # an uncapped run never loads the capped checkpoint
    monkeypatch.delenv(env.TRAIN_CAP_ENV_VAR)
    calls.clear()
    history = training.fit(
        tiny_model(), loader, num_epochs=4, lr=0.05, loss_fn=counting_loss, augment=None, config=config, device="cpu"
    )
    assert len(history) == 4 and len(calls) == 20 and totals[-1] == 20
    assert "loaded cached" not in capsys.readouterr().out
    assert len(list((clean_env / "cache").glob("tiny-*.pt"))) == 2


# ----------------------------------------------------------------------------------------- NaN guard


def test_nan_loss_stops_fit_and_caches_nothing(clean_env) -> None:
    def nan_loss(outputs, y):
        return exits_loss(outputs, y) * float("nan")

    with pytest.raises(RuntimeError, match=r"(?s)epoch 1.*non-finite tensors: stem.*poisoned.*amp='off'.*log\(0\)"):
        training.fit(
            tiny_model(),
            tiny_loader(),
            num_epochs=2,
            lr=0.05,
            loss_fn=nan_loss,
            augment=None,
            config={"name": "nan"},
            device="cpu",
            verbose=False,
        )
    assert not list((clean_env / "cache").glob("*.pt"))


class PoisonedStats(nn.Module):
    """A classifier whose side BatchNorm sees a NaN batch in training: finite loss, NaN running statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(64, 3)
        self.side_bn = nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.side_bn(torch.full((x.shape[0], 4), float("nan")))
        return self.head(x.flatten(1))


def test_nan_batchnorm_statistics_stop_fit(clean_env) -> None:
    with pytest.raises(
        RuntimeError,
        match=r"non-finite tensors: side_bn\.running_mean, side_bn\.running_var\. "
        r"The weights are poisoned",
    ):
        training.fit(
            PoisonedStats(),
            tiny_loader(),
            num_epochs=1,
            lr=0.05,
            augment=None,
            config={"name": "bn"},
            device="cpu",
            verbose=False,
        )
    assert not list((clean_env / "cache").glob("*.pt"))


# ----------------------------------------------------------------------------------------- device batching


@pytest.mark.parametrize(
    "num_samples, drop_last, sizes", [(70, False, [16, 16, 16, 16, 6]), (64, False, [16] * 4), (70, True, [16] * 4)]
)
def test_device_batches_are_the_loaders_batches(num_samples, drop_last, sizes) -> None:
    def loader() -> DataLoader:
        return tiny_loader(
            num_samples=num_samples, shuffle=True, generator=torch.Generator().manual_seed(3), drop_last=drop_last
        )

    reference, candidate = loader(), loader()
    batches = training.device_batches(candidate, candidate.dataset.tensors)
    for _ in range(3):  # three epochs: the generator advances as the loader's own iteration would
        expected, got = list(reference), list(batches)
        assert [len(b[0]) for b in got] == sizes and len(batches) == len(reference)
        assert all(torch.equal(a, b) for e, g in zip(expected, got, strict=True) for a, b in zip(e, g, strict=True))


def test_device_batches_cover_every_sample_reproducibly() -> None:
    X, y = torch.arange(70.0), torch.arange(70)

    def loader(seed: int | None = 3, **kwargs) -> DataLoader:
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, generator=generator, **kwargs)

    def labels(batches) -> list[int]:
        return torch.cat([b[1] for b in batches]).tolist()

    shuffled = labels(training.device_batches(loader(), (X, y)))
    assert sorted(shuffled) == list(range(70)) and shuffled != list(range(70))  # every sample once, shuffled
    assert labels(training.device_batches(loader(), (X, y))) == shuffled  # reproducible from the seed
    assert labels(training.device_batches(loader(seed=4), (X, y))) != shuffled
    kept = labels(training.device_batches(loader(drop_last=True), (X, y)))
    assert len(set(kept)) == 64 and kept == shuffled[:64]
    ordered = DataLoader(TensorDataset(X, y), batch_size=16)
    assert labels(training.device_batches(ordered, (X, y))) == list(range(70))
    torch.manual_seed(11)  # a loader without a generator draws from the global RNG, as the DataLoader does
    expected = labels(loader(seed=None))
    torch.manual_seed(11)
    assert labels(training.device_batches(loader(seed=None), (X, y))) == expected


def test_only_plain_tensor_loaders_are_batched_on_the_device() -> None:
    plain = tiny_loader()
    assert training.can_batch_on_device(plain) and training.can_batch_on_device(tiny_loader(shuffle=True))
    dataset = plain.dataset
    assert not training.can_batch_on_device(DataLoader(dataset, batch_size=16, collate_fn=lambda b: b))
    assert not training.can_batch_on_device(DataLoader(list(dataset), batch_size=16))
    weights = WeightedRandomSampler(torch.ones(64), num_samples=64)
    assert not training.can_batch_on_device(DataLoader(dataset, batch_size=16, sampler=weights))
    replace = torch.utils.data.RandomSampler(dataset, replacement=True)
    assert not training.can_batch_on_device(DataLoader(dataset, batch_size=16, sampler=replace))
    assert not training.can_batch_on_device([(dataset.tensors[0], dataset.tensors[1])])
    with pytest.raises(ValueError, match="TensorDataset"):
        training.device_batches(DataLoader(list(dataset), batch_size=16), dataset.tensors)


@pytest.mark.parametrize("num_samples, cap", [(70, None), (64, None), (70, "2:3")])
def test_fit_fed_from_the_device_trains_as_the_loader_does(num_samples, cap, clean_env, monkeypatch) -> None:
    """The CUDA feeding path, switched on for the CPU: the same batches, so bit-identical weights."""
    if cap:
        monkeypatch.setenv(env.TRAIN_CAP_ENV_VAR, cap)

    def train() -> tuple[list[dict], dict]:
        model = tiny_model()
        loader = tiny_loader(num_samples=num_samples, shuffle=True, generator=torch.Generator().manual_seed(3))
        history = training.fit(
            model, loader, num_epochs=3, lr=0.05, loss_fn=exits_loss, augment="shift_flip", device="cpu", verbose=False
        )
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history], model.state_dict()

    torch.manual_seed(7)
    expected_history, expected_state = train()
    made = []

    def recording_device_batches(loader, tensors):
        made.append(len(tensors[0]))
        return training.DeviceBatches(loader, tensors)

    monkeypatch.setattr(training, "_feeds_from_device", lambda loader, device: training.can_batch_on_device(loader))
    monkeypatch.setattr(training, "device_batches", recording_device_batches)
    torch.manual_seed(7)
    history, state = train()
    assert made == [num_samples] and history == expected_history
    assert all(torch.equal(state[k], expected_state[k]) for k in state)


# ----------------------------------------------------------------------------------------- fit log


class EvalRefuses(nn.Module):
    """Trains fine, but its eval-mode forward raises, so the MAC count in the fit log fails."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            raise RuntimeError("no eval forward")
        return self.head(x.flatten(1))


def test_fit_log_has_one_line_per_call(clean_env, monkeypatch) -> None:
    log = clean_env / "logs" / "fits.jsonl"
    monkeypatch.setenv(training.FIT_LOG_ENV_VAR, str(log))
    config = {"name": "tiny", "seed": 0}
    kwargs = dict(
        num_epochs=2,
        lr=0.05,
        loss_fn=exits_loss,
        augment=None,
        config=config,
        device="cpu",
        desc="logged",
        verbose=False,
    )
    torch.manual_seed(5)
    training.fit(tiny_model(), tiny_loader(), **kwargs)
    after_logged = torch.rand(3)
    training.fit(tiny_model(), tiny_loader(), **kwargs)  # from the cache
    training.fit(EvalRefuses(), tiny_loader(), num_epochs=1, lr=0.05, augment=None, device="cpu", verbose=False)
    trained, cached, refused = (json.loads(line) for line in log.read_text().splitlines())
    assert {
        k: trained[k]
        for k in (
            "desc",
            "config",
            "num_epochs",
            "epochs_run",
            "steps_run",
            "steps_per_epoch",
            "train_size",
            "batch_size",
            "model",
            "amp",
            "device",
            "cached",
        )
    } == {
        "desc": "logged",
        "config": "tiny",
        "num_epochs": 2,
        "epochs_run": 2,
        "steps_run": 8,
        "steps_per_epoch": 4,
        "train_size": 64,
        "batch_size": 16,
        "model": "EarlyExitResNet",
        "amp": "auto",
        "device": "cpu",
        "cached": False,
    }
    assert trained["macs_per_image"] == cost.module_macs(tiny_model(), torch.zeros(1, 1, 8, 8))
    assert trained["seconds"] > 0 and trained["cap"] is None
    assert cached["cached"] is True and cached["steps_run"] == 0 and cached["macs_per_image"] > 0
    assert refused["macs_per_image"] is None and "no eval forward" in refused["macs_error"]
    # logging does not move the random number generator the notebook goes on with
    monkeypatch.delenv(training.FIT_LOG_ENV_VAR)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(clean_env / "other_cache"))
    torch.manual_seed(5)
    training.fit(tiny_model(), tiny_loader(), **kwargs)
    assert torch.equal(torch.rand(3), after_logged)


# ----------------------------------------------------------------------------------------- datasets


def nearest_mean_accuracy(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    X_train, X_test = X_train.reshape(len(X_train), -1) / 255.0, X_test.reshape(len(X_test), -1) / 255.0
    means = np.stack([X_train[y_train == c].mean(0) for c in range(10)])
    predicted = ((X_test[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    return float((predicted == y_test).mean())


def test_torchvision_reads_the_synthetic_files(tmp_path) -> None:
    import torchvision.datasets as tvd

    write_cifar10(tmp_path, n_train=300, n_test=100)
    write_fashion_mnist(tmp_path, n_train=300, n_test=100)
    unchecked = data._without_checksum(tvd.CIFAR10)  # the files cannot match the real archive's md5 sums
    for cls, image_shape, names in ((unchecked, (32, 32, 3), "airplane"), (tvd.FashionMNIST, (28, 28), "Trouser")):
        train, test = cls(str(tmp_path), train=True), cls(str(tmp_path), train=False)
        X_train, y_train = np.asarray(train.data), np.asarray(train.targets)
        X_test, y_test = np.asarray(test.data), np.asarray(test.targets)
        assert X_train.shape == (300, *image_shape) and X_test.shape == (100, *image_shape)
        assert X_train.dtype == np.uint8 and np.bincount(y_train).tolist() == [30] * 10
        assert names in train.classes and len(train.classes) == 10
        assert nearest_mean_accuracy(X_train, y_train, X_test, y_test) > 0.5  # learnable: chance is 0.1


def test_load_dataset_splits_the_synthetic_files(clean_env, monkeypatch) -> None:
    downloads = data.data_root() / "downloads"
    write_cifar10(downloads)
    write_fashion_mnist(downloads)
    monkeypatch.setenv(data.SKIP_CHECKSUM_ENV_VAR, "1")
    for name, shape in (("cifar10", (3, 32, 32)), ("fashion_mnist", (1, 28, 28))):
        splits = data.load_dataset(name, download=False)
        assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (540, 60, 200)
        assert splits.input_shape == shape and splits.num_classes == 10
        assert splits.X_train.dtype == torch.float32 and 0.0 <= splits.X_train.min() <= splits.X_train.max() <= 1.0
        assert int(splits.y_train.max()) == 9 and int(splits.y_val.min()) == 0


def test_validation_split_is_a_tenth_of_small_sets_and_5000_of_real_ones() -> None:
    assert data.validation_size(50_000) == 5000 and data.validation_size(60_000) == 5000
    assert data.validation_size(600) == 60 and data.validation_size(9) == 0


def refuse_network(monkeypatch) -> list:
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)  # a download looks the host name up first
    return attempts


def test_corrupt_cifar_files_get_their_own_message(clean_env, monkeypatch) -> None:
    attempts = refuse_network(monkeypatch)
    folder = write_cifar10(data.data_root() / "downloads")  # synthetic: present, but not the real md5 sums
    started = time.perf_counter()
    with pytest.raises(
        data.DatasetUnavailableError,
        match=r"(?s)present but fail torchvision's md5 checksum: data_batch_1, .*Delete them"
        r".*COURSE_SKIP_CHECKSUM=1",
    ) as info:
        data.load_dataset("cifar10")
    assert str(folder) in str(info.value) and "one-time download" not in str(info.value)
    (folder / "data_batch_1").write_bytes(b"garbage")
    with pytest.raises(data.DatasetUnavailableError, match="md5 checksum"):
        data.load_dataset("cifar10")
    assert not attempts and time.perf_counter() - started < 10  # no download attempt, so fast and offline
    for file in folder.iterdir():  # missing files keep the download advice
        file.unlink()
    with pytest.raises(data.DatasetUnavailableError, match="one-time download"):
        data.load_dataset("cifar10")
    assert attempts


def test_corrupt_idx_files_get_their_own_message(clean_env, monkeypatch) -> None:
    attempts = refuse_network(monkeypatch)
    folder = write_fashion_mnist(data.data_root() / "downloads")
    (folder / "train-images-idx3-ubyte").write_bytes(b"garbage that is no idx file")
    labels = folder / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-3])  # truncated
    with pytest.raises(
        data.DatasetUnavailableError,
        match=r"present but are not valid idx files: train-images-idx3-ubyte \(bad header\), "
        r"t10k-labels-idx1-ubyte \(length does not match the header\)\. Delete them",
    ):
        data.load_dataset("fashion_mnist")
    assert not attempts


def test_skip_checksum_switch(monkeypatch) -> None:
    for value, expected in (("1", True), ("yes", True), ("", False), ("0", False)):
        monkeypatch.setenv(data.SKIP_CHECKSUM_ENV_VAR, value)
        assert data.skip_checksum() is expected
    monkeypatch.setenv(data.SKIP_CHECKSUM_ENV_VAR, "maybe")
    with pytest.raises(ValueError, match="COURSE_SKIP_CHECKSUM='maybe'"):
        data.skip_checksum()


def test_hidden_tests_run_uncapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The smoke-test cap limits the notebook's training, never the hidden tests' own small runs."""
    from pathlib import Path

    from autograder.grader.judge import runner_env
    from autograder.student import LocalStudent
    from autograder.suite import HiddenTest, run_test

    seen = []
    test = HiddenTest("sees_cap", "test_x", 1.0, (), lambda student: seen.append(env.train_cap()), "sees the cap")
    monkeypatch.setenv("COURSE_TRAIN_CAP", "1:3")
    assert run_test(test, LocalStudent({})).state == "passed"
    assert seen == [None] and str(env.train_cap()) == "1:3"
    monkeypatch.setenv("COURSE_FIT_LOG", "/tmp/fits.jsonl")
    runner = runner_env(Path("/tmp"))
    assert "COURSE_TRAIN_CAP" not in runner and "COURSE_FIT_LOG" not in runner


def test_an_unwritable_fit_log_never_fails_the_fit(clean_env, monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("COURSE_FIT_LOG", str(blocker / "fits.jsonl"))  # its folder is a file: not writable
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    loader = DataLoader(TensorDataset(torch.rand(8, 1, 2, 2), torch.randint(0, 2, (8,))), batch_size=4)
    with pytest.warns(RuntimeWarning, match="not writable"):
        history = training.fit(model, loader, num_epochs=1, lr=0.1, augment=None, verbose=False)
    assert len(history) == 1
