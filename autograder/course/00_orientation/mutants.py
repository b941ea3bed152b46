"""Known-wrong implementations for 00_orientation's hidden tests."""

from __future__ import annotations

from autograder.suite import Mutant


def macs_ignore_groups(cin, cout, k, h, w, groups=1):
    return int(cout * h * w * cin * k * k)


def macs_as_flops(cin, cout, k, h, w, groups=1):
    return int(2 * cout * h * w * (cin // groups) * k * k)


def macs_float(cin, cout, k, h, w, groups=1):
    return float(cout * h * w * (cin // groups) * k * k)


def accuracy_percent(logits, y):
    return float(100 * (logits.argmax(1) == y).float().mean())


def accuracy_argmin(logits, y):
    return float((logits.argmin(1) == y).float().mean())


def accuracy_broadcasting(logits, y):
    # no shape check: (N, 1) labels broadcast against (N,) predictions silently
    return float((logits.argmax(1) == y).float().mean())


MUTANTS = [
    Mutant("conv MACs ignore groups", ("conv_macs_grouped",), {"conv2d_macs": macs_ignore_groups}),
    Mutant(
        "conv MACs counted as FLOPs", ("conv_macs_match_counter", "conv_macs_grouped"), {"conv2d_macs": macs_as_flops}
    ),
    Mutant("conv MACs as float", ("conv_macs_match_counter",), {"conv2d_macs": macs_float}),
    Mutant("accuracy in percent", ("accuracy_matches_argmax",), {"accuracy": accuracy_percent}),
    Mutant("accuracy of argmin", ("accuracy_matches_argmax",), {"accuracy": accuracy_argmin}),
    Mutant("accuracy without shape checks", ("accuracy_rejects_bad_shapes",), {"accuracy": accuracy_broadcasting}),
]
