"""Shared pytest settings: small run size, quiet progress bars, a per-session checkpoint cache."""

from __future__ import annotations

import os

os.environ.setdefault("COURSE_SIZE", "small")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
