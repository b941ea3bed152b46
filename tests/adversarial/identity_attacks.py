"""Classes 3, 6, 8 and 9 of issue 17: who a file belongs to, which notebook it is, what the CSV says.

- i01_zip_names_others (3): a zip in this student's folder whose members are `alice/90_synthetic.ipynb`
  and `bob/90_synthetic.ipynb` (stubs). On the old grader the member paths named alice and bob, so
  alice got a second (0-point) record that could replace her real one. Now the zip speaks only for
  its owner: alice keeps one record and one 4/4 row, nobody called bob appears.
- i02_resubmission (3): `90_synthetic.ipynb` (older, stubs, and slow so it finishes last) and
  `90_synthetic (1).ipynb` (the LMS's resubmission, solved). On the old grader whichever finished
  last counted; now the resubmission counter decides: the solved one counts, the other is listed as
  set aside.
- i03_metadata_other_stem (6): a solved synthetic notebook named 90_synthetic.ipynb whose metadata
  says course.stem 00_orientation. On the old grader it was graded as 00_orientation (0 points, no
  warning); now the content (graded function names) decides, and the disagreement is flagged.
- i04/i05 (8): student folders named `=HYPERLINK(...)` and `@SUM(1)`: no cell of grades.csv or
  stats.csv may start with a formula character.
- i06_zip_named_ipynb (9): a zip archive named 90_synthetic.ipynb: the reason says it is a zip archive.
"""

from __future__ import annotations

import csv
import json
import os
import zipfile
from pathlib import Path

import grading_fixtures as S
from adversarial.submissions import ALL_TESTS, Attack, BuildContext

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("x.example","y")'
SUM = "@SUM(1)"
SLOW_STUB_ADD = "import time\ntime.sleep(3)\n" + S.stub(S.ADD)


def _csv_rows(out: Path, name: str = "grades.csv") -> list[list[str]]:
    path = out / name
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _grades(out: Path) -> list[dict[str, str]]:
    rows = _csv_rows(out)
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]] if rows else []


def _gradebook_text(out: Path) -> str:
    path = out / "gradebook.txt"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _check_zip_owner(record: dict | None, batch: dict) -> list[str]:
    problems = []
    records = batch["records"]
    alice = [r for r in records if r.get("student") == "alice"]
    if len(alice) != 1:
        problems.append(f"alice has {len(alice)} records: {[r.get('source') for r in alice]}")
    if any(r.get("student") == "bob" for r in records):
        problems.append("a zip member named a student 'bob' who submitted nothing")
    rows = [r for r in _grades(batch["out"]) if r.get("student") == "alice"]
    if len(rows) != 1 or rows[0].get("points") != "4":
        problems.append(f"alice's grades.csv rows: {rows}")
    from_zip = [r for r in records if "i01_zip_names_others" in r.get("source", "") and ".zip!" in r["source"]]
    if len(from_zip) != 2 or {r.get("student") for r in from_zip} != {"i01_zip_names_others"}:
        problems.append(f"zip members not all credited to the zip's owner: {[r.get('student') for r in from_zip]}")
    return problems


def _check_resubmission(record: dict | None, batch: dict) -> list[str]:
    problems = []
    mine = [r for r in batch["records"] if r.get("student") == "i02_resubmission"]
    if len(mine) != 2:
        problems.append(f"expected both files graded and kept in results.jsonl, got {len(mine)}")
    rows = [r for r in _grades(batch["out"]) if r.get("student") == "i02_resubmission"]
    if len(rows) != 1 or rows[0].get("points") != "4":
        problems.append(f"the resubmission '90_synthetic (1).ipynb' did not count: {rows}")
    book = _gradebook_text(batch["out"])
    if "set aside" not in book or "90_synthetic.ipynb" not in book:
        problems.append("the gradebook does not list the file set aside")
    return problems


def _check_metadata(record: dict | None, batch: dict) -> list[str]:
    if record is None:
        return ["no record"]
    problems = []
    if record.get("stem") != S.STEM:
        problems.append(f"graded as {record.get('stem')} ({record.get('stem_rule')}), not as its content says")
    if "00_orientation" not in " ".join(record.get("reasons", [])):
        problems.append("the disagreement between metadata and file name is not flagged")
    return problems


def _check_csv(record: dict | None, batch: dict) -> list[str]:
    problems = []
    for name in ("grades.csv", "stats.csv"):
        for row in _csv_rows(batch["out"], name):
            bad = [cell for cell in row if cell.startswith(FORMULA_START)]
            if bad:
                problems.append(f"{name}: cells starting with a formula character: {bad[:3]}")
    return problems


def add_attacks(ctx: BuildContext) -> None:
    """Write the identity, metadata, CSV and zip-named-.ipynb attacks into the batch."""
    owner = "i01_zip_names_others"
    ctx.attacks["zip:i01"] = Attack(
        "zip:i01",
        "a zip in my folder whose members are alice/ and bob/",
        zero=ALL_TESTS,
        category="names",
        relpath_hint=f"alice/{S.STEM}.ipynb",  # the record of the member that names alice
        klass=3,
        check=_check_zip_owner,
    )
    archive = ctx.subs / owner / "work.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"alice/{S.STEM}.ipynb", json.dumps(S.release()))
        zf.writestr(f"bob/{S.STEM}.ipynb", json.dumps(S.release()))

    resub = Attack(
        "i02_resubmission",
        "two files for one notebook: old stub, newer solved '(1)' resubmission",
        category="code",
        klass=3,
        check=_check_resubmission,
    )
    old = ctx.add(resub, S.notebook(add=SLOW_STUB_ADD, scale=S.stub(S.SCALE), model=S.stub(S.MODEL)))
    new = ctx.add(resub, S.notebook(), name=f"{S.STEM} (1).ipynb")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    os.utime(new, (1_700_000_000, 1_700_000_000))

    meta = S.notebook()
    meta["metadata"]["course"]["stem"] = "00_orientation"
    ctx.add(
        Attack(
            "i03_metadata_other_stem",
            "metadata names another notebook than the file name and the content",
            normal=ALL_TESTS,
            klass=6,
            check=_check_metadata,
        ),
        meta,
    )
    for student, name in (("i04", HYPERLINK), ("i05", SUM)):
        ctx.attacks[student] = Attack(
            student,
            f"student folder named {name} (a spreadsheet formula)",
            normal=ALL_TESTS,
            klass=8,
            relpath_hint=name,
            check=_check_csv,
        )
        S.write(ctx.subs / name / f"{S.STEM}.ipynb", S.notebook())
    ctx.add(
        Attack(
            "i06_zip_named_ipynb",
            "a zip archive renamed .ipynb",
            zero=ALL_TESTS,
            reason="zip archive",
            category="format",
            klass=9,
        ),
        S.zip_of_notebook(),
    )
