"""Per-notebook modules named by stem (e.g. 03_early_exit.py), loaded by file path."""
