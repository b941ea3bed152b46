"""Results on disk: results.jsonl (appended as grading goes), grades.csv, feedback, stats, gradebook.

Duplicates: results.jsonl keeps every record. The outputs count one record per student and notebook:
first, of the records of one submitted file (source) the last graded (a file that changed and was
regraded, or --force); then, of one student's files for one notebook, the one `--duplicates` picks:
"newest" (the default) takes the largest (LMS timestamp in the file name, resubmission counter
`name (1)` / `name-2`, modification time, path), "best" the highest points, ties by "newest". The
choice depends only on the records, never on the order they finished in. The gradebook
(gradebook.txt and the printed table) and the feedback list every file set aside and why.

Every CSV cell is spreadsheet-safe: a cell starting with = + - @, tab or CR gets a leading single quote
(the OWASP rule), and CR/LF inside a cell become spaces, so a name can neither be a formula nor make rows.
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.grader.notebook import STEM_CONFLICT, name_timestamp, resubmission_counter
from autograder.grader.records import GradeRecord, record_key
from autograder.suite import STATES

__all__ = [
    "ResultsLog",
    "read_records",
    "read_results",
    "latest_records",
    "resolve_duplicates",
    "Counted",
    "DUPLICATE_RULES",
    "csv_safe",
    "write_outputs",
    "gradebook_table",
    "record_key",
]


class ResultsLog:
    """Append-only results.jsonl: one JSON line per graded submission x notebook, flushed and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._repair()

    def _repair(self) -> None:
        """A run killed mid-write can leave a partial last line: cut it so appends stay valid JSON lines."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)

    def append(self, record: GradeRecord) -> None:
        line = json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def read_records(path: Path) -> list[GradeRecord]:
    """All complete records of results.jsonl, old or new (a damaged line is skipped)."""
    records: list[GradeRecord] = []
    path = Path(path)
    if not path.exists():
        return records
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("source"), str):
                records.append(GradeRecord.from_json(record))
    return records


def read_results(path: Path) -> list[dict]:
    """The records of results.jsonl as JSON objects (`GradeRecord.to_json()`), for tools that want plain data."""
    return [record.to_json() for record in read_records(path)]


DUPLICATE_RULES = ("newest", "best")


@dataclass
class Counted:
    """The record that counts for one student and notebook, and the records set aside, each with why."""

    record: GradeRecord
    set_aside: list[tuple[GradeRecord, str]] = field(default_factory=list)


def _file_name(record: GradeRecord) -> str:
    path = (record.relpath or record.source).replace("\\", "/").rsplit("!", 1)[-1]
    return PurePosixPath(path).name


def _newest_key(record: GradeRecord) -> tuple[str, int, float, str]:
    name = _file_name(record)
    mtime = record.mtime if isinstance(record.mtime, (int, float)) else 0.0
    return (name_timestamp(name), resubmission_counter(name), float(mtime), record.source)


def _why(counted: GradeRecord, other: GradeRecord, rule: str) -> str:
    if rule == "best" and counted.points != other.points:
        decided = f"a higher score ({_fmt(counted.points)} > {_fmt(other.points)})"
    else:
        a, b = _newest_key(counted), _newest_key(other)
        what = (
            "a later LMS timestamp in its file name",
            "a higher resubmission counter in its file name",
            "a later modification time",
            "the path order (all else equal)",
        )
        decided = next((w for w, x, y in zip(what, a, b, strict=True) if x != y), what[-1])
        if rule == "best":
            decided = f"the same score, and {decided}"
    return f"set aside: {counted.source} counts instead (--duplicates {rule}: {decided})"


def resolve_duplicates(records: Iterable[GradeRecord], rule: str = "newest") -> list[Counted]:
    """One Counted per (student, notebook), sorted; deterministic for any order of `records` of distinct files."""
    if rule not in DUPLICATE_RULES:
        raise ValueError(f"duplicates rule must be one of {', '.join(DUPLICATE_RULES)}, got {rule!r}")
    by_source: dict[str, list[GradeRecord]] = {}
    for record in records:
        by_source.setdefault(record.source, []).append(record)
    groups: dict[tuple[str, str], list[tuple[GradeRecord, list[GradeRecord]]]] = {}
    for versions in by_source.values():
        current = versions[-1]  # the file's latest grading (results.jsonl is appended in time order)
        groups.setdefault((current.student or "?", current.stem or "?"), []).append((current, versions[:-1]))
    chosen: list[Counted] = []
    for group in groups.values():
        if rule == "best":
            group.sort(key=lambda item: (item[0].points, _newest_key(item[0])), reverse=True)
        else:
            group.sort(key=lambda item: _newest_key(item[0]), reverse=True)
        counted = Counted(group[0][0])
        for current, older in group:
            if current is not counted.record:
                counted.set_aside.append((current, _why(counted.record, current, rule)))
            for old in older:
                counted.set_aside.append((old, "set aside: an earlier grading of the same file (regraded since)"))
        chosen.append(counted)
    return sorted(chosen, key=lambda c: (str(c.record.student), str(c.record.stem)))


def latest_records(records: Iterable[GradeRecord], rule: str = "newest") -> list[GradeRecord]:
    """One record per (student, notebook), chosen by `resolve_duplicates` (a resubmission replaces the old one)."""
    return [c.record for c in resolve_duplicates(records, rule)]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: no leading formula character (OWASP), no line breaks."""
    text = str(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _safe_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", str(text)).strip("._")
    return cleaned[:100] or "unknown"


def write_outputs(out: Path, records: list[GradeRecord], duplicates: str = "newest") -> None:
    """grades.csv, feedback/<student>/<stem>.md, stats.csv, stats.md and gradebook.txt from the graded records."""
    out = Path(out)
    resolved = resolve_duplicates(records, duplicates)
    latest = [c.record for c in resolved]
    grade_ids: list[str] = []
    for record in latest:
        for t in record.tests:
            if t["grade_id"] not in grade_ids:
                grade_ids.append(t["grade_id"])
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([csv_safe(h) for h in ["student", "notebook", "points", "max_points", *grade_ids, "reasons"]])
        for record in latest:
            per: dict[str, float] = {}
            for t in record.tests:
                per[t["grade_id"]] = per.get(t["grade_id"], 0.0) + float(t["points"])
            row = [
                record.student,
                record.stem or "",
                _fmt(record.points),
                _fmt(record.max_points),
                *[_fmt(per[g]) if g in per else "" for g in grade_ids],
                "; ".join(record.reasons)[:1000],
            ]
            writer.writerow([csv_safe(cell) for cell in row])
    for counted in resolved:
        record = counted.record
        folder = out / "feedback" / _safe_name(record.student or "unknown")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{_safe_name(record.stem or 'unknown')}.md").write_text(
            feedback_markdown(record, counted.set_aside), encoding="utf-8"
        )
    _write_stats(out, latest)
    (out / "gradebook.txt").write_text(_gradebook(resolved) + "\n", encoding="utf-8")


def feedback_markdown(record: GradeRecord, set_aside: Iterable[tuple[GradeRecord, str]] = ()) -> str:
    """Feedback for one student and notebook: test names, states, points, messages (never test code)."""
    lines = [
        f"# {record.stem or 'unidentified notebook'}: {_fmt(record.points)} / {_fmt(record.max_points)} points",
        "",
        f"- student: {record.student} ({record.student_rule})",
        f"- file: {record.source}",
        f"- notebook identified by: {record.stem_rule}",
    ]
    if record.device:
        lines.append(f"- graded on: {record.device}")
    for reason in record.reasons:
        lines.append(f"- note: {reason}")
    for other, why in set_aside:
        lines.append(f"- another file for this notebook, {other.source} ({_fmt(other.points)} points): {why}")
    lines += ["", "| test | cell | state | points | message |", "|---|---|---|---|---|"]
    for t in record.tests:
        message = str(t.get("message", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {t['test']} | {t['grade_id']} | {t['state']} | {_fmt(t['points'])} / "
            f"{_fmt(t['max_points'])} | {message} |"
        )
    cells = record.cells
    failed = [d for d in cells.get("details", []) if d.get("status") == "failed"]
    lines += [
        "",
        f"Cells executed by the grader: {len(cells.get('ran', [])) + len(cells.get('failed', []))}, "
        f"skipped: {len(cells.get('skipped', []))} (demo, plot and test cells are not run).",
    ]
    for d in failed:
        lines.append(f"- cell {'+'.join(map(str, d['cells']))} failed: {d.get('error', '')}")
    lines += [
        "",
        "Hidden tests call your functions on fresh inputs; 'not attempted' means the stub still raises "
        "NotImplementedError.",
        "",
    ]
    return "\n".join(lines)


def _write_stats(out: Path, latest: list[GradeRecord]) -> None:
    rows: dict[tuple[str, str], dict] = {}
    for record in latest:
        for t in record.tests:
            row = rows.setdefault(
                (record.stem or "?", t["test"]),
                {
                    "notebook": record.stem or "?",
                    "test": t["test"],
                    "grade_id": t["grade_id"],
                    "max_points": float(t["max_points"]),
                    "n": 0,
                    "points": 0.0,
                    **{s: 0 for s in STATES},
                },
            )
            row["n"] += 1
            row["points"] += float(t["points"])
            if t["state"] in row:
                row[t["state"]] += 1
    table = []
    for row in rows.values():
        n = row["n"]
        table.append(
            {
                "notebook": row["notebook"],
                "test": row["test"],
                "grade_id": row["grade_id"],
                "n": n,
                "pass_rate": round(row["passed"] / n, 4) if n else 0.0,
                "mean_points": round(row["points"] / n, 4) if n else 0.0,
                "max_points": row["max_points"],
                **{s: row[s] for s in STATES},
            }
        )
    fields = ["notebook", "test", "grade_id", "n", "pass_rate", "mean_points", "max_points", *STATES]
    with open(out / "stats.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([csv_safe(f) for f in fields])
        writer.writerows([[csv_safe(row[f]) for f in fields] for row in table])
    md = ["# Per-test class statistics", "", "| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in table:
        md.append(
            "| " + " | ".join(f"{row[f]:.2f}" if isinstance(row[f], float) else str(row[f]) for f in fields) + " |"
        )
    (out / "stats.md").write_text("\n".join(md) + "\n", encoding="utf-8")


def gradebook_table(records: list[GradeRecord], duplicates: str = "newest") -> str:
    """A plain-text gradebook: one line per student and notebook, with state counts, then the duplicates."""
    return _gradebook(resolve_duplicates(records, duplicates))


def _gradebook(resolved: list[Counted]) -> str:
    latest = [c.record for c in resolved]
    header = ["student", "notebook", "points", "states", "notes"]
    body = []
    devices = sorted({r.device for r in latest if r.device})
    for record in latest:
        counts: dict[str, int] = {}
        for t in record.tests:
            counts[t["state"]] = counts.get(t["state"], 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in counts.items()) or "-"
        notes = "; ".join(record.reasons)
        body.append(
            [
                str(record.student),
                str(record.stem or "?"),
                f"{_fmt(record.points)}/{_fmt(record.max_points)}",
                states,
                notes[:70] + ("..." if len(notes) > 70 else ""),
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    lines.append(f"{len(body)} graded notebook(s); device: {', '.join(devices) or 'n/a'}")
    conflicts = [r for r in latest if r.stem_rule.startswith(STEM_CONFLICT)]
    if conflicts:
        lines += ["", "File name and metadata disagree (which notebook was graded, and why):"]
        lines += [f"- {r.student}: {r.source}: {r.stem_rule}" for r in conflicts]
    dupes = [c for c in resolved if c.set_aside]
    if dupes:
        lines += ["", "Duplicates (one file counts per student and notebook; every record stays in results.jsonl):"]
        for c in dupes:
            lines.append(f"- {c.record.student} / {c.record.stem or '?'}: counted {c.record.source}")
            lines += [f"    {other.source} ({_fmt(other.points)} points): {why}" for other, why in c.set_aside]
    return "\n".join(lines)
