"""GradeRecord: the grading record, and results.jsonl lines written by older graders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.grader import report as rep
from autograder.grader.records import GradeRecord, empty_cells

# A line as the grader wrote it before GradeRecord (an internal-error record: no graded_at, rules,
# isolation, restarts, runner, output_bytes or duration_s), and a full line with a key from another version.
OLD_INTERNAL_ERROR = {
    "source": "subs/bob/00_orientation.ipynb",
    "relpath": "bob/00_orientation.ipynb",
    "sha256": "ab" * 32,
    "student": "bob",
    "stem": None,
    "tests": [],
    "points": 0.0,
    "max_points": 0.0,
    "reasons": ["internal grader error (KeyError: 'x'); please report"],
    "cells": empty_cells(),
    "device": "",
}
OLD_FULL = {
    "source": "subs/alice/00_orientation.ipynb",
    "relpath": "alice/00_orientation.ipynb",
    "sha256": "cd" * 32,
    "student": "alice",
    "student_rule": "folder",
    "stem": "00_orientation",
    "stem_rule": "metadata",
    "reasons": [],
    "cells": {"ran": [1, 2], "skipped": [3], "failed": [], "details": []},
    "tests": [
        {
            "test": "t1",
            "grade_id": "test_a",
            "state": "passed",
            "points": 2.0,
            "max_points": 2.0,
            "message": "ok",
            "duration_s": 0.1,
        }
    ],
    "device": "cpu",
    "graded_at": "2026-11-30T10:00:00",
    "isolation": "process",
    "restarts": None,
    "runner": {"ipython": True, "python": "3.11.7"},
    "output_bytes": 12,
    "points": 2.0,
    "max_points": 4.0,
    "duration_s": 1.5,
    "queue": "from a later grader",
}


def test_old_lines_load_with_defaults_and_keep_unknown_keys() -> None:
    old = GradeRecord.from_json(OLD_INTERNAL_ERROR)
    assert (old.student, old.stem, old.graded_at, old.restarts, old.runner, old.duration_s) == (
        "bob",
        None,
        "",
        0,
        {},
        0.0,
    )
    full = GradeRecord.from_json(OLD_FULL)
    assert full.tests[0]["state"] == "passed" and full.points == 2.0 and full.restarts == 0
    assert full.extra == {"queue": "from a later grader"}
    again = full.to_json()
    assert again["queue"] == "from a later grader"
    new_keys = ("restarts", "mtime")  # fields this grader writes that the old line lacks (defaults)
    assert {k: v for k, v in again.items() if k not in new_keys} == {
        k: v for k, v in OLD_FULL.items() if k not in new_keys
    }
    assert again["mtime"] is None


def test_to_json_round_trips_and_copies() -> None:
    record = GradeRecord(
        source="s.ipynb",
        sha256="00",
        student="carol",
        stem="01_prediction_depth",
        reasons=["note"],
        tests=[
            {
                "test": "t",
                "grade_id": "g",
                "state": "failed",
                "points": 0.0,
                "max_points": 1.0,
                "message": "m",
                "duration_s": 0.0,
            }
        ],
    )
    data = record.to_json()
    assert GradeRecord.from_json(json.loads(json.dumps(data))) == record
    data["reasons"].append("changed")
    assert record.reasons == ["note"], "to_json must not share lists with the record"
    assert record.key == rep.record_key("s.ipynb", "00")


def test_a_record_needs_a_source() -> None:
    with pytest.raises(ValueError, match="source"):
        GradeRecord.from_json({"student": "dave"})


def test_results_jsonl_from_an_older_grader_resumes(tmp_path: Path) -> None:
    """The resume path reads old lines: their keys count as graded, and the outputs are rebuilt from them."""
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (OLD_INTERNAL_ERROR, OLD_FULL)) + '{"damaged": ', "utf-8")
    log = rep.ResultsLog(path)  # cuts the partial last line
    log.append(GradeRecord(source="subs/erin/00_orientation.ipynb", sha256="ef", student="erin"))
    records = rep.read_records(path)
    assert [r.student for r in records] == ["bob", "alice", "erin"]
    assert records[1].key == f"{OLD_FULL['source']}#{OLD_FULL['sha256']}"
    assert rep.read_results(path)[1]["queue"] == "from a later grader"
    rep.write_outputs(tmp_path, records)
    grades = (tmp_path / "grades.csv").read_text()
    assert "alice,00_orientation,2,4,2," in grades
    assert "2/4" in rep.gradebook_table(records)
    assert "internal grader error" in (tmp_path / "feedback" / "bob" / "unknown.md").read_text()
