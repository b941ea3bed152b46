"""Plots used across notebooks; each returns its matplotlib Axes so notebooks can adjust them."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = [
    "training_curves",
    "exit_bars",
    "pareto_curve",
    "exit_histogram",
    "depth_histogram",
    "image_grid",
    "heatmap",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5.5, 3.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def training_curves(
    history: Sequence[dict], key: str = "val_acc", ax: Axes | None = None, labels: Sequence[str] | None = None
) -> Axes:
    """Per-exit accuracy (or loss) against epoch from `course_lib.training.fit`'s history.

    Introduced in 00_orientation.
    """
    ax = _axes(ax)
    values = np.array([record[key] for record in history], dtype=float)
    epochs = [record["epoch"] for record in history]
    if values.ndim == 1:
        values = values[:, None]
    for k in range(values.shape[1]):
        label = labels[k] if labels else f"exit {k + 1}"
        ax.plot(epochs, 100 * values[:, k] if "acc" in key else values[:, k], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)" if "acc" in key else key)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def exit_bars(
    accuracies: Sequence[float], costs: Sequence[float], ax: Axes | None = None, labels: Sequence[str] | None = None
) -> Axes:
    """Bars of accuracy per exit with each exit's cumulative MACs on a second axis.

    Introduced in 02_branchynet.
    """
    ax = _axes(ax)
    x = np.arange(len(accuracies))
    labels = list(labels) if labels else [f"exit {k + 1}" for k in x]
    ax.bar(x - 0.2, 100 * np.asarray(accuracies), width=0.4, color="tab:blue", label="accuracy")
    ax.set_ylabel("accuracy (%)", color="tab:blue")
    ax.set_xticks(x, labels)
    twin = ax.twinx()
    twin.bar(x + 0.2, np.asarray(costs) / 1e6, width=0.4, color="tab:orange", label="MACs")
    twin.set_ylabel("cumulative MACs (M)", color="tab:orange")
    return ax


def pareto_curve(
    costs: Sequence[float],
    accuracies: Sequence[float],
    ax: Axes | None = None,
    label: str | None = None,
    chosen: tuple[float, float] | None = None,
    reference: tuple[float, float] | None = None,
) -> Axes:
    """Accuracy against mean MACs per sample, with an optional chosen point and full-network reference.

    Introduced in 03_early_exit.
    """
    ax = _axes(ax)
    order = np.argsort(costs)
    ax.plot(np.asarray(costs)[order] / 1e6, 100 * np.asarray(accuracies)[order], marker=".", label=label)
    if chosen is not None:
        ax.scatter(
            [chosen[0] / 1e6], [100 * chosen[1]], s=120, marker="*", color="red", zorder=5, label="chosen threshold"
        )
    if reference is not None:
        ax.scatter(
            [reference[0] / 1e6], [100 * reference[1]], s=60, marker="s", color="black", zorder=5, label="full network"
        )
    ax.set_xlabel("mean MACs per sample (M)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def exit_histogram(exit_indices: Sequence[int] | torch.Tensor, num_exits: int, ax: Axes | None = None) -> Axes:
    """Share of samples leaving at each exit.

    Introduced in 03_early_exit.
    """
    ax = _axes(ax)
    counts = np.bincount(np.asarray(exit_indices, dtype=int), minlength=num_exits)
    ax.bar(np.arange(1, num_exits + 1), 100 * counts / max(counts.sum(), 1))
    ax.set_xlabel("exit")
    ax.set_ylabel("samples (%)")
    ax.set_xticks(np.arange(1, num_exits + 1))
    return ax


def depth_histogram(depths: Sequence[int] | np.ndarray, num_layers: int, ax: Axes | None = None) -> Axes:
    """Histogram of prediction depths 0..num_layers-1.

    Introduced in 01_prediction_depth.
    """
    ax = _axes(ax)
    counts = np.bincount(np.asarray(depths, dtype=int), minlength=num_layers)
    ax.bar(np.arange(len(counts)), counts)
    ax.set_xlabel("prediction depth")
    ax.set_ylabel("examples")
    ax.set_xticks(np.arange(len(counts)))
    return ax


def image_grid(
    images: torch.Tensor | np.ndarray, titles: Sequence[str] | None = None, ncols: int = 10, cell: float = 1.2
) -> np.ndarray:
    """Show images (N, C, H, W) or (N, H, W) in a grid; returns the array of Axes.

    Introduced in 00_orientation.
    """
    images = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if images.ndim == 4:
        images = images.transpose(0, 2, 3, 1)
        if images.shape[-1] == 1:
            images = images[..., 0]
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + 0.2), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray" if images[i].ndim == 2 else None)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return axes


def heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    ax: Axes | None = None,
    cbar_label: str = "",
    fmt: str = "{:.2f}",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
) -> Axes:
    """Annotated heatmap, e.g. gate execution rate per class (rows) and block (columns).

    Introduced in 04_layer_skipping.
    """
    values = np.asarray(values, dtype=float)
    ax = _axes(ax, figsize=(0.6 * len(col_labels) + 2.5, 0.35 * len(row_labels) + 1.5))
    image = ax.imshow(values, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(np.arange(len(col_labels)), col_labels)
    ax.set_yticks(np.arange(len(row_labels)), row_labels)
    if values.size <= 400:
        for (r, c), v in np.ndenumerate(values):
            ax.text(
                c,
                r,
                fmt.format(v),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v < (vmax or 1) * 0.6 else "black",
            )
    ax.figure.colorbar(image, ax=ax, label=cbar_label)
    return ax
