"""The grading record: one per graded submission file, one JSON line of results.jsonl.

`GradeRecord.to_json()` is what the grader appends; `GradeRecord.from_json()` reads any line the grader
ever wrote: keys an older grader did not write take their defaults, and keys this version does not know
are kept in `extra` and written back unchanged, so a resumed run never loses information.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GradeRecord", "empty_cells", "record_key"]


def record_key(source: str, sha256: str) -> str:
    """Identity of a graded submission file: where it came from and its content hash."""
    return f"{source}#{sha256}"


def empty_cells() -> dict[str, list[Any]]:
    """The cell summary of a notebook none of whose cells ran."""
    return {"ran": [], "skipped": [], "failed": [], "details": []}


@dataclass
class GradeRecord:
    """What the grader found for one submission: who, which notebook, every hidden test's result, and why.

    `tests` holds one row per hidden test (`Result.to_dict()` plus `duration_s`); `cells` says which
    cells the grader ran, skipped or saw fail; `reasons` are the notes shown in feedback and gradebook.
    """

    source: str
    relpath: str = ""
    sha256: str = ""
    student: str | None = None
    student_rule: str = ""
    stem: str | None = None
    stem_rule: str = ""
    reasons: list[str] = field(default_factory=list)
    cells: dict[str, list[Any]] = field(default_factory=empty_cells)
    tests: list[dict[str, Any]] = field(default_factory=list)
    device: str = ""
    graded_at: str = ""
    isolation: str | None = None
    restarts: int = 0
    runner: dict[str, Any] = field(default_factory=dict)
    output_bytes: int = 0
    points: float = 0.0
    max_points: float = 0.0
    duration_s: float = 0.0
    mtime: float | None = None  # modification time of the submitted file (duplicates: --duplicates newest)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as one results.jsonl line's object (plain JSON types; `extra` keys at the top level)."""
        data = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "extra"}
        for key, value in self.extra.items():
            data.setdefault(key, copy.deepcopy(value))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GradeRecord:
        """A record from a results.jsonl object, old or new; raises ValueError if it has no string `source`."""
        if not isinstance(data.get("source"), str):
            raise ValueError(f"a grading record needs a string 'source' (the submitted file); got keys {sorted(data)}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {key: copy.deepcopy(value) for key, value in data.items() if key in known}
        extra = {key: copy.deepcopy(value) for key, value in data.items() if key not in known}
        for key in ("restarts", "output_bytes"):  # written as null or missing by older graders
            if values.get(key) is None:
                values.pop(key, None)
        for key in ("runner", "cells"):
            if not isinstance(values.get(key), dict):
                values.pop(key, None)
        return cls(**values, extra=extra)

    @property
    def key(self) -> str:
        """Identity of the graded file: where it came from and its content hash (resume skips known keys)."""
        return record_key(self.source, self.sha256)
