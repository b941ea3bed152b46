"""Progressive hints for __STEM__: {graded function: [level 1 (the idea), level 2 (the approach), level 3 (close to
code, with the key step left to the learner)]}. Format: docs/AUTHORING.md, "Hints"."""

HINTS = {
    "exit_fractions": [
        "Count how many samples leave at each exit, then turn the counts into shares of all samples.",
        "torch.bincount counts the occurrences of each index; think about what it returns for an exit no sample took.",
        "Check the indices first (0 <= index < num_exits), then count with the right minimum length and divide by "
        "the number of samples, as floats.",
    ],
}
