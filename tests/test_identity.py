"""Issue 17, classes 3, 6, 8, 9: who a file belongs to, duplicates, metadata vs file name, CSV cells, zips.

Fast: no runner starts (the end-to-end cases grade files that never parse, so no student code runs).
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import zipfile
from pathlib import Path

import pytest

import grading_fixtures as S
from autograder.grader import notebook as nbmod
from autograder.grader import report as rep
from autograder.grader.cli import collect_submissions, main
from autograder.grader.records import GradeRecord

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _zip(path: Path, members: dict[str, bytes | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# ---------------------------------------------------------------------------------------------
# Identity (class 3)


@pytest.mark.parametrize(
    "relpath,member,student",
    [
        ("mallory/deep/alice/90_synthetic.ipynb", "", "mallory"),  # deeper folders never name anyone
        ("submissions/90_synthetic/zed/x.ipynb", "", "zed"),  # container and stem folders are skipped
        ("course/submitted/alice/hw1/90_synthetic.ipynb", "", "alice"),  # nbgrader layout
        ("mallory/work.zip", "alice/90_synthetic.ipynb", "mallory"),  # an archive in a folder: its owner
        ("mallory/work.zip", "../../alice/90_synthetic.ipynb", "mallory"),
        ("export.zip", "alice/90_synthetic.ipynb", "alice"),  # an archive at the top: member's top entry
        ("export.zip", "submissions/bob/deep/carol/x.ipynb", "bob"),
        ("export.zip", "90_synthetic_dave.ipynb", "dave"),  # members at the root: the file-name rule
    ],
)
def test_the_top_level_entry_names_the_student(relpath: str, member: str, student: str) -> None:
    assert nbmod.identify_student(relpath, S.STEM, member=member)[0] == student


def test_a_zip_in_a_students_folder_speaks_only_for_that_student(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    S.write(subs / "alice" / f"{S.STEM}.ipynb", S.notebook())
    _zip(subs / "mallory" / "work.zip", {f"alice/{S.STEM}.ipynb": "{}", f"bob/{S.STEM}.ipynb": "{}"})
    _zip(subs / "export.zip", {f"carol/{S.STEM}.ipynb": "{}"})
    found, _ = collect_submissions([str(subs)])
    owners = {s.source.split(str(subs))[-1]: s.student(S.STEM)[0] for s in found}
    assert owners == {
        "/alice/90_synthetic.ipynb": "alice",
        "/mallory/work.zip!alice/90_synthetic.ipynb": "mallory",
        "/mallory/work.zip!bob/90_synthetic.ipynb": "mallory",
        "/export.zip!carol/90_synthetic.ipynb": "carol",
    }
    inner = next(s for s in found if "mallory" in s.source and "alice" in s.member)
    assert inner.relpath == "mallory/work.zip!alice/90_synthetic.ipynb"  # the record shows where it lay


def test_a_file_given_directly_uses_its_name(tmp_path: Path) -> None:
    path = S.write(tmp_path / "somewhere" / f"{S.STEM}_erin.ipynb", S.notebook())
    (sub,), _ = collect_submissions([str(path)])
    assert sub.student(S.STEM) == ("erin", "file name <stem>_<student>")


# ---------------------------------------------------------------------------------------------
# Duplicates


def _rec(source: str, points: float = 0.0, mtime: float | None = None, student: str = "ann") -> GradeRecord:
    return GradeRecord(
        source=source, relpath=source, sha256=source, student=student, stem=S.STEM, points=points, mtime=mtime
    )


@pytest.mark.parametrize(
    "files,counted",
    [
        # the resubmission counter beats an older-looking mtime
        ([("ann/90_synthetic.ipynb", 9.0), ("ann/90_synthetic (1).ipynb", 1.0)], "ann/90_synthetic (1).ipynb"),
        ([("ann/hw (2).ipynb", 1.0), ("ann/hw (10).ipynb", 1.0), ("ann/hw-3.ipynb", 5.0)], "ann/hw (10).ipynb"),
        # an LMS timestamp in the name beats the counter and the mtime
        (
            [("ann/a_2024-03-05-14-30-00_hw (3).ipynb", 9.0), ("ann/a_2024-03-06-08-00-00_hw.ipynb", 1.0)],
            "ann/a_2024-03-06-08-00-00_hw.ipynb",
        ),
        # else the mtime; equal mtimes: the path
        ([("ann/x.ipynb", 2.0), ("ann/y.ipynb", 1.0)], "ann/x.ipynb"),
        ([("ann/x.ipynb", 1.0), ("ann/y.ipynb", 1.0)], "ann/y.ipynb"),
    ],
)
def test_newest_rule(files: list[tuple[str, float]], counted: str) -> None:
    records = [_rec(src, mtime=m) for src, m in files]
    for order in itertools.permutations(records):  # never depends on which finished last
        (chosen,) = rep.resolve_duplicates(list(order))
        assert chosen.record.source == counted
        assert sorted(r.source for r, _ in chosen.set_aside) == sorted(s for s, _ in files if s != counted)
        assert all(why.startswith("set aside:") and counted in why for _, why in chosen.set_aside)


def test_best_rule_and_resume_keep_every_record(tmp_path: Path) -> None:
    low_new = _rec("ann/90_synthetic (1).ipynb", points=1, mtime=2)
    high_old = _rec("ann/90_synthetic.ipynb", points=3, mtime=1)
    other = _rec("bob/90_synthetic.ipynb", points=2, student="bob")
    for order in itertools.permutations([low_new, high_old, other]):
        best = {c.record.student: c for c in rep.resolve_duplicates(list(order), "best")}
        assert best["ann"].record is high_old and "higher score" in best["ann"].set_aside[0][1]
        assert {c.record.student: c.record for c in rep.resolve_duplicates(list(order))}["ann"] is low_new
    regraded = _rec("ann/90_synthetic (1).ipynb", points=0, mtime=2)  # the same file graded again later
    (chosen,) = [c for c in rep.resolve_duplicates([low_new, high_old, regraded]) if c.record.student == "ann"]
    assert chosen.record is regraded and any("earlier grading" in why for _, why in chosen.set_aside)
    with pytest.raises(ValueError, match="newest, best"):
        rep.resolve_duplicates([low_new], "random")
    rep.write_outputs(tmp_path, [high_old, low_new, other])
    rows = list(csv.DictReader(open(tmp_path / "grades.csv", newline="", encoding="utf-8")))
    assert [(r["student"], r["points"]) for r in rows] == [("ann", "1"), ("bob", "2")]
    book = (tmp_path / "gradebook.txt").read_text()
    assert "counted ann/90_synthetic (1).ipynb" in book and "ann/90_synthetic.ipynb (3 points): set aside" in book
    feedback = (tmp_path / "feedback" / "ann" / f"{S.STEM}.md").read_text()
    assert "ann/90_synthetic.ipynb (3 points)" in feedback and "resubmission counter" in feedback


def _hidden(tmp_path: Path) -> Path:
    hidden = tmp_path / "hidden"
    hidden.mkdir(exist_ok=True)
    (hidden / f"{S.STEM}.py").write_text(S.SUITE_SOURCE)
    return hidden


def test_duplicates_end_to_end_with_resume(tmp_path: Path) -> None:
    """Files that never parse (no runner): the second run adds a resubmission, which then counts."""
    subs, out, hidden = tmp_path / "subs", tmp_path / "out", _hidden(tmp_path)
    first = S.write(subs / "ann" / f"{S.STEM}.ipynb", S.zip_of_notebook())
    os.utime(first, (2_000_000_000, 2_000_000_000))  # newer mtime: the counter still wins
    args = [str(subs), "--out", str(out), "--hidden-dir", str(hidden), "--quiet"]
    assert main(args) == 0
    S.write(subs / "ann" / f"{S.STEM} (1).ipynb", b"\xff\xfe not a notebook")
    assert main(args) == 0
    records = rep.read_records(out / "results.jsonl")
    assert len(records) == 2 and {r.student for r in records} == {"ann"}
    rows = list(csv.DictReader(open(out / "grades.csv", newline="", encoding="utf-8")))
    assert len(rows) == 1 and "not UTF-8" in rows[0]["reasons"]
    book = (out / "gradebook.txt").read_text()
    assert f"counted {subs / 'ann' / (S.STEM + ' (1).ipynb')}" in book
    assert "set aside" in book and "resubmission counter" in book


# ---------------------------------------------------------------------------------------------
# Metadata vs file name (class 6)


def _parsed(stem_in_metadata: str, add: str = S.ADD) -> nbmod.ParsedNotebook:
    nb = S.notebook(add=add)
    nb["metadata"]["course"]["stem"] = stem_in_metadata
    return nbmod.parse_notebook(json.dumps(nb).encode())


KNOWN = {S.STEM: {"add", "scale", "build_model"}, "00_orientation": {"describe_batch", "accuracy"}}


def test_content_decides_when_metadata_and_file_name_disagree() -> None:
    stem, rule = nbmod.identify_stem(_parsed("00_orientation"), f"ann/{S.STEM}.ipynb", KNOWN)
    assert stem == S.STEM and rule.startswith(nbmod.STEM_CONFLICT)
    assert "graded as 90_synthetic" in rule and "00_orientation" in rule and "3/3" in rule
    # the file says 00, the metadata and content say 90: the metadata wins, still flagged
    stem, rule = nbmod.identify_stem(_parsed(S.STEM), "ann/00_orientation.ipynb", KNOWN)
    assert stem == S.STEM and rule.startswith(nbmod.STEM_CONFLICT) and "(the metadata)" in rule
    # a tie (content matches neither) keeps the metadata
    empty = nbmod.parse_notebook(json.dumps({"cells": [], "metadata": {"course": {"stem": "00_orientation"}}}).encode())
    assert nbmod.identify_stem(empty, f"{S.STEM}.ipynb", KNOWN)[0] == "00_orientation"
    # agreement: the plain rule
    assert nbmod.identify_stem(_parsed(S.STEM), f"{S.STEM}.ipynb", KNOWN) == (S.STEM, "notebook metadata course.stem")


def test_disagreement_reaches_reasons_and_gradebook(tmp_path: Path) -> None:
    record = GradeRecord(
        source="x.ipynb", student="ann", stem=S.STEM, stem_rule=f"{nbmod.STEM_CONFLICT}: graded as {S.STEM}"
    )
    assert nbmod.STEM_CONFLICT in rep.gradebook_table([record])


# ---------------------------------------------------------------------------------------------
# Spreadsheet-safe CSV (class 8)

NASTY = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1+1", "-2+3", "\tcmd", "\rcr", "eve\nalice,90_synthetic,4,4"]


def test_no_csv_cell_starts_with_a_formula_character(tmp_path: Path) -> None:
    records = [
        GradeRecord(
            source=f"{i}.ipynb",
            student=name,
            stem=S.STEM,
            reasons=["-1 points for style", "=cmd"],
            tests=[{"test": "=t", "grade_id": "@g", "state": "passed", "points": 1, "max_points": 1}],
            points=1,
            max_points=1,
        )
        for i, name in enumerate(NASTY)
    ]
    rep.write_outputs(tmp_path, records)
    for name in ("grades.csv", "stats.csv"):
        with open(tmp_path / name, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert all(not cell.startswith(FORMULA_START) for row in rows for cell in row), rows
        assert all("\n" not in cell and "\r" not in cell for row in rows for cell in row)
    text = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(NASTY) + 1  # a newline in a name makes no row, even for naive readers
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    assert rep.csv_safe("alice") == "alice" and rep.csv_safe(3) == "3"


# ---------------------------------------------------------------------------------------------
# A zip named .ipynb (class 9); nothing identified: exit status 3


def test_archives_named_ipynb_are_named() -> None:
    with pytest.raises(nbmod.NotebookError, match=r"this file is a zip archive, not a notebook: rename it \.zip"):
        nbmod.parse_notebook(S.zip_of_notebook())
    with pytest.raises(nbmod.NotebookError, match="gzip archive"):
        nbmod.parse_notebook(gzip.compress(json.dumps(S.notebook()).encode()))
    with pytest.raises(nbmod.NotebookError, match="PDF"):
        nbmod.parse_notebook(b"%PDF-1.7\n...")


def test_a_zip_named_ipynb_gets_a_record_with_the_reason(tmp_path: Path) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    S.write(subs / "ann" / f"{S.STEM}.ipynb", S.zip_of_notebook())
    assert main([str(subs), "--out", str(out), "--hidden-dir", str(_hidden(tmp_path)), "--quiet"]) == 0
    (record,) = rep.read_records(out / "results.jsonl")
    assert record.student == "ann" and record.stem == S.STEM and record.points == 0
    assert any("zip archive" in r and "rename it .zip" in r for r in record.reasons)


def test_exit_status_3_when_nothing_is_identified(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    S.write(subs / "ann" / "mystery.ipynb", {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert main([str(subs), "--out", str(out), "--quiet"]) == 3
    assert "could be identified" in capsys.readouterr().err
    (record,) = rep.read_records(out / "results.jsonl")  # still wrote what it could
    assert record.stem is None and (out / "grades.csv").exists()
